// Runs one backup in its own process, so a test can kill -9 it halfway.
// argv[2]: JSON { url, schema, config }. Prints "started" when the service is about to run.

import { Registry } from 'prom-client';
import { systemClock } from '../../../src/clock.ts';
import { resolveBackupsConfig } from '../../../src/backups/config.ts';
import { BackupService } from '../../../src/backups/service.ts';
import { openStore } from '../../../src/store/store.ts';

const { url, schema, config, job } = JSON.parse(process.argv[2]!) as { url: string; schema: string; config: never; job: string };
const store = await openStore({ url, schema, poolSize: 3 });
const service = new BackupService({ store, clock: systemClock, config: resolveBackupsConfig(config), registry: new Registry(), sink: { submit: async (s) => s } });
process.stdout.write('started\n');
const [r] = await service.run('backup', job);
process.stdout.write(`${JSON.stringify(r)}\n`);
await store.close();
