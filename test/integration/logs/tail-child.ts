// A process running a FileTailer, for the kill -9 test. Each delivery commits the numbers it read and the
// checkpoint in one transaction, then prints "committed N" (the running total); with KUZET_CHILD_REPORT_IDLE it
// prints "idle" once a whole poll finds nothing new. SIGTERM stops it cleanly.
// argv: FILE INPUT; env: KUZET_CHILD_DATABASE_URL + KUZET_CHILD_SCHEMA (PostgreSQL) or KUZET_CHILD_PGLITE_DIR.
import { systemClock } from '../../../src/clock.ts';
import { saveCheckpoint } from '../../../src/sources/logs/offsets.ts';
import { FileTailer } from '../../../src/sources/logs/tailer.ts';
import { openStore } from '../../../src/store/store.ts';

const [file, input] = process.argv.slice(2) as [string, string];
const store = await openStore(
  process.env.KUZET_CHILD_DATABASE_URL
    ? { url: process.env.KUZET_CHILD_DATABASE_URL, schema: process.env.KUZET_CHILD_SCHEMA, poolSize: 2 }
    : { dataDir: process.env.KUZET_CHILD_PGLITE_DIR! },
);
let total = 0;
let deliveries = 0;
const tailer = new FileTailer(
  { name: input, paths: [file], startAt: 'beginning', maxLineBytes: 4096, rotateWaitMs: 200, pollMs: 20 },
  {
    store,
    clock: systemClock,
    deliver: async (b) => {
      const nums: number[] = [];
      for (const it of b.items) if (it.kind === 'lines') for (const l of it.text.split('\n')) nums.push(Number(l));
      await store.tx(async (q) => {
        if (nums.length) await q.query('INSERT INTO seen_numbers (n) SELECT (jsonb_array_elements_text($1::jsonb))::int', [JSON.stringify(nums)]);
        await saveCheckpoint(q, b.checkpoint, systemClock.now());
      });
      total += nums.length;
      deliveries++;
      process.stdout.write(`committed ${total}\n`);
    },
  },
);
await tailer.start();
process.stdout.write('started\n');
process.on('SIGTERM', () => {
  void tailer
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
// "idle": a whole poll found nothing new and no rotated file is still open (the parent stopped the writer).
let idle = false;
const watch = async () => {
  const before = deliveries;
  await tailer.pollOnce();
  if (!idle && deliveries === before && tailer.openFiles.length <= 1) {
    idle = true;
    process.stdout.write('idle\n');
  }
  setTimeout(() => void watch(), 50);
};
if (process.env.KUZET_CHILD_REPORT_IDLE) void watch();
setInterval(() => {}, 1 << 30);
