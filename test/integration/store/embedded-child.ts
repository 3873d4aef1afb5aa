// A process opening an embedded store in the folder argv[2] and printing, as JSON, who runs its server and what
// a query returns; for the test that runs it as a non-root user.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readPostmasterPid } from '../../../src/store/embedded.ts';
import { openStore } from '../../../src/store/store.ts';

const dir = process.argv[2]!;
const store = await openStore({ dataDir: dir });
try {
  const pid = readPostmasterPid(join(dir, 'cluster'))!.pid;
  const serverUid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
  const r = await store.query<{ n: number }>('SELECT 40 + 2 AS n');
  process.stdout.write(JSON.stringify({ uid: process.getuid!(), serverUid, n: r.rows[0]!.n }) + '\n');
} finally {
  await store.close();
}
