import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createApp } from '../../../src/app.ts';
import { FakeClock } from '../../../src/clock.ts';
import { nullLogger } from '../../../src/log.ts';
import { freshStore, storeKind } from '../../support/store.ts';
import { tmpTree } from '../../support/tmp.ts';

// `kuzet run` from any working directory: every path of the shipped config is taken from the config file's folder
// (or from kuzet's own folder for what it ships), never from the working directory.

const SHIPPED = fileURLToPath(new URL('../../../config/kuzet.yaml', import.meta.url));

describe(`the shipped config from another working directory on ${storeKind}`, () => {
  it('finds the calendar, runbooks, probes and forms; the report form offers the catalogue', async () => {
    const t = tmpTree({ 'elsewhere/.keep': '' });
    const before = process.cwd();
    process.chdir(t.path('elsewhere'));
    const store = await freshStore();
    const attachments = t.path('attachments');
    const app = await createApp({ configFile: SHIPPED, store, clock: new FakeClock('2026-03-02T04:00:00Z'), log: nullLogger, port: 0, env: { KUZET_PORT: '0', KUZET_ATTACHMENTS_DIR: attachments } });
    try {
      assert.ok(app.config.kuzet.systems.length > 10);
      assert.ok(app.config.probeFiles.length >= 3, 'the probe files are found next to the config, not in the working directory');
      const { url } = await app.start();
      const page = await (await fetch(`${url}/report?lang=ru&system=sic-registration`)).text();
      assert.match(page, /АРМ регистрации социального индивидуального кода/);
      assert.equal(existsSync(join(t.path('elsewhere'), 'data')), false, `nothing is written under the working directory: ${JSON.stringify(readdirSync(t.path('elsewhere'), { recursive: true }))}`);
    } finally {
      await app.stop();
      await store.close();
      process.chdir(before);
      t.cleanup();
    }
  });
});
