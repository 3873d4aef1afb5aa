import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { FakeClock } from '../../../src/clock.ts';
import type { Logger } from '../../../src/log.ts';
import { parseDueRule } from '../../../src/requests/calendar.ts';
import { CalendarSource } from '../../../src/requests/calendar-source.ts';

const FILE = fileURLToPath(new URL('../../../config/calendars/kz.yaml', import.meta.url));

function recordingLogger(lines: string[]): Logger {
  const log = (level: string) => (msg: string) => void lines.push(`${level}: ${msg}`);
  const l: Logger = { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), child: () => l };
  return l;
}

describe('calendar source', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kuzet-cal-'));
    file = join(dir, 'kz.yaml');
    await copyFile(FILE, file);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('loads, keeps the old calendar when a reload is bad, and takes a good reload', async () => {
    const lines: string[] = [];
    const src = new CalendarSource({ file, clock: new FakeClock('2026-11-24T08:00:00Z'), logger: recordingLogger(lines) });
    const first = src.start();
    assert.ok(lines.some((l) => l.startsWith('warn: ') && l.includes('2026-05-27')), 'uncertain entries are reported');
    await writeFile(file, 'zone: Asia/Almaty\nyears: [2026\n');
    const bad = src.reload();
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /kz\.yaml:\d+:\d+/);
    assert.equal(src.get(), first);
    const text = await readFile(FILE, 'utf8');
    await writeFile(file, text.replace('  - { date: 2026-03-25, kind: shifted_day_off', '  - { date: 2026-03-25, kind: shifted_day_off, note: changed'));
    assert.equal(src.reload().ok, true);
    assert.notEqual(src.get(), first);
  });

  it('says loudly, once, that a year is missing', async () => {
    await copyFile(FILE, file);
    const lines: string[] = [];
    const src = new CalendarSource({ file, clock: new FakeClock('2027-11-24T08:00:00Z'), logger: recordingLogger(lines) });
    src.start();
    assert.ok(lines.some((l) => l.startsWith('error: WARNING') && l.includes('no data for 2028')), 'next year missing at load');
    lines.length = 0;
    src.get().due(Date.parse('2027-12-30T07:00:00Z'), parseDueRule('3 working days')!);
    src.get().due(Date.parse('2027-12-30T07:00:00Z'), parseDueRule('5 working days')!);
    assert.equal(lines.filter((l) => l.includes('no data for 2028')).length, 1);
  });
});
