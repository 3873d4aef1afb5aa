// Log-rule scan over one file, the way the tailer reads it (64 KiB reads, bounded lines, the rule matcher),
// for the peers harness 04-logscan.sh: SCAN_CMD='node --import tsx bench/logs/scan-once.ts --file {file} --rules {patterns}'.
// Prints per-rule match counts (which rule matched) and lines/s; the last line is the summary the harness records.
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { LineSplitter } from '../../src/sources/logs/lines.ts';
import { LogMatcher } from '../../src/sources/logs/matcher.ts';
import { compilePattern } from '../../src/sources/logs/patterns.ts';

const args = new Map<string, string>();
for (let i = 2; i + 1 < process.argv.length; i += 2) args.set(process.argv[i]!.replace(/^--/, ''), process.argv[i + 1]!);
const file = args.get('file');
const rulesFile = args.get('rules');
if (!file || !rulesFile) {
  process.stderr.write('usage: scan-once.ts --file LOG --rules PATTERNS [--engine auto|re2] [--chunk BYTES]\n');
  process.exit(2);
}
const engine = (args.get('engine') ?? 'auto') as 'auto' | 're2';
const sources = readFileSync(rulesFile, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
const patterns = sources.map((s) => compilePattern(s, { engine }));
const matcher = new LogMatcher(patterns);
const counts = new Array<number>(patterns.length).fill(0);
let any = 0;
let lines = 0;
let bytes = 0;

const t0 = performance.now();
const fd = openSync(file, 'r');
const buf = Buffer.allocUnsafe(Number(args.get('chunk') ?? 64 * 1024));
const splitter = new LineSplitter({ maxLineBytes: 64 * 1024 });
const onHit = (_line: string, rules: readonly number[]) => {
  any++;
  for (const r of rules) counts[r]!++;
};
for (;;) {
  const n = readSync(fd, buf, 0, buf.length, null);
  if (n === 0) break;
  bytes += n;
  const block = splitter.push(buf.subarray(0, n));
  lines += block.lines;
  matcher.scanLines(block.text, onHit);
}
const tail = splitter.flushPartial();
lines += tail.lines;
matcher.scanLines(tail.text, onHit);
closeSync(fd);
const sec = (performance.now() - t0) / 1000;
const engines = patterns.map((p) => p.engine).join(',');
process.stdout.write(`SCANJSON ${JSON.stringify({ lines, bytes, any, counts, seconds: Number(sec.toFixed(3)), lines_per_s: Math.round(lines / sec), engines })}\n`);
// Last line: the per-rule counts, comma-separated, as the harness reads them (its summary shows their sum).
process.stdout.write(`${counts.join(',')}\n`);
