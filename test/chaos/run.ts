// The chaos suite: `npm run chaos [-- --list | --help | scenario ...]`. Each scenario runs against real processes
// (kuzet as compiled code, a private Debian PostgreSQL server, a real SMTP server), prints its figures and PASS or
// FAIL; the run ends with a summary table and exits 1 when any scenario failed. Not part of `npm test`.
import { run } from '../support/process.ts';
import { scenarios } from './scenarios/index.ts';
import { chaosUnavailable, createHarness, type Figures, type Harness, type Scenario } from './support.ts';

/** A scenario that runs longer than this fails (and everything it started is stopped). */
const SCENARIO_TIMEOUT_MS = 240_000;

const USAGE = `usage: npm run chaos [-- [--list] [--help] [scenario ...]]

Runs the chaos scenarios (default: all, in order) against real processes: kuzet from dist/ (built first when
src/ changed), a private PostgreSQL server (Debian's postgresql 15 binaries), a real SMTP server and, for
clock-step, Debian's faketime, all on loopback. Each scenario prints its figures and PASS or FAIL; the exit status
is 1 when any failed.

  --list    list the scenarios and exit
  --help    this text
`;

const write = (s: string) => process.stdout.write(s);

/** The harness of the scenario running now: an interrupt stops what it started before the runner exits. */
let current: Harness | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    write(`\n${sig}: stopping what the running scenario started …\n`);
    void (current?.cleanup() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

function figureLines(f: Figures): string {
  const keys = Object.keys(f);
  const width = Math.max(0, ...keys.map((k) => k.length)) + 1;
  return keys.map((k) => `  ${`${k}:`.padEnd(width)} ${f[k]}\n`).join('');
}

function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

interface Outcome {
  name: string;
  ok: boolean;
  seconds: number;
  error?: string;
}

async function runOne(s: Scenario, index: number, total: number): Promise<Outcome> {
  const t0 = Date.now();
  write(`\n== [${index}/${total}] ${s.name}: ${s.title}\n`);
  const progress = (msg: string) => write(`  · ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${msg}\n`);
  let h: Harness | null = null;
  let error: Error | null = null;
  let figures: Figures = {};
  try {
    h = await createHarness(s.name, progress);
    current = h;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => (timer = setTimeout(() => reject(new Error(`the scenario ran longer than ${SCENARIO_TIMEOUT_MS / 1000} s`)), SCENARIO_TIMEOUT_MS)));
    try {
      figures = await Promise.race([s.run(h), timeout]);
    } finally {
      clearTimeout(timer);
    }
  } catch (err) {
    error = err as Error;
  }
  const shown = { ...(h?.figures ?? {}), ...figures };
  if (Object.keys(shown).length) write(figureLines(shown));
  if (error) {
    write(`  ${(error.stack ?? String(error)).split('\n').join('\n  ')}\n`);
    for (const [i, k] of (h?.kuzets ?? []).entries()) write(`  --- kuzet ${i + 1} (${k.url}), last lines of its output ---\n${tail(k.output(), 25).replace(/^/gm, '  | ')}\n`);
  }
  if (h) {
    progress('cleaning up');
    await h.cleanup();
    current = null;
  }
  const seconds = (Date.now() - t0) / 1000;
  write(`${error ? 'FAIL' : 'PASS'} ${s.name} (${seconds.toFixed(1)} s)\n`);
  return { name: s.name, ok: !error, seconds, error: error ? error.message.split('\n')[0] : undefined };
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    write(USAGE);
    return 0;
  }
  if (argv.includes('--list')) {
    const w = Math.max(...scenarios.map((s) => s.name.length));
    for (const s of scenarios) write(`${s.name.padEnd(w)}  ${s.title}\n`);
    return 0;
  }
  const unknownFlag = argv.find((a) => a.startsWith('-'));
  if (unknownFlag) {
    process.stderr.write(`chaos: unknown option ${unknownFlag}\n${USAGE}`);
    return 2;
  }
  const unknown = argv.filter((a) => !scenarios.some((s) => s.name === a));
  if (unknown.length) {
    process.stderr.write(`chaos: no scenario named ${unknown.join(', ')}; the scenarios are ${scenarios.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const chosen = argv.length ? scenarios.filter((s) => argv.includes(s.name)) : scenarios;
  const missing = chaosUnavailable();
  if (missing) {
    process.stderr.write(`chaos: cannot run: ${missing}\n`);
    return 1;
  }
  const t0 = Date.now();
  write(`kuzet chaos suite: ${chosen.length} scenario(s): ${chosen.map((s) => s.name).join(', ')}\n`);
  write(`node ${process.version}, ${new Date().toISOString()}\n`);
  write('building dist/ if src/ changed …\n');
  const built = await run('node', ['scripts/build.js', '--if-stale']);
  if (built.code !== 0) {
    process.stderr.write(`chaos: the build failed:\n${built.out}`);
    return 1;
  }
  const outcomes: Outcome[] = [];
  for (const [i, s] of chosen.entries()) outcomes.push(await runOne(s, i + 1, chosen.length));
  const w = Math.max(8, ...outcomes.map((o) => o.name.length));
  write(`\nSummary (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  write(`  ${'scenario'.padEnd(w)}  result  seconds  \n`);
  for (const o of outcomes) write(`  ${o.name.padEnd(w)}  ${o.ok ? 'PASS' : 'FAIL'}    ${o.seconds.toFixed(1).padStart(7)}${o.error ? `  ${o.error}` : ''}\n`);
  const failed = outcomes.filter((o) => !o.ok).length;
  write(failed ? `${failed} of ${outcomes.length} scenario(s) failed\n` : `all ${outcomes.length} scenario(s) passed\n`);
  return failed ? 1 : 0;
}

// Exit explicitly: a scenario that failed half-way may leave a timer or a socket that would keep the runner up.
process.exit(await main(process.argv.slice(2)));
