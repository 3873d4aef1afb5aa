// Compile src/ to dist/ with tsc and copy the files that are not TypeScript (SQL migrations) beside the output.
//   node scripts/build.js             full build: type-checked, dist/ rebuilt from empty
//   node scripts/build.js --if-stale  build only when src/ (or a tsconfig, package.json) changed since the last build;
//                                     emits without type checking (`npm run typecheck` checks), so a start stays quick
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, openSync, closeSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SRC = join(ROOT, 'src');
const DIST = join(ROOT, 'dist');
const STAMP = join(DIST, '.build-stamp');
const LOCK = join(ROOT, '.build.lock');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let m = st.mtimeMs;
  for (const e of readdirSync(path)) m = Math.max(m, newest(join(path, e)));
  return m;
}

/** dist/ is missing or older than anything it is built from. */
export function isStale() {
  if (!existsSync(STAMP)) return true;
  const built = statSync(STAMP).mtimeMs;
  const inputs = [SRC, join(ROOT, 'tsconfig.json'), join(ROOT, 'tsconfig.build.json'), join(ROOT, 'package.json')];
  return inputs.some((p) => existsSync(p) && newest(p) > built);
}

function copyAssets(dir = SRC) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const from = join(dir, e.name);
    if (e.isDirectory()) copyAssets(from);
    else if (!e.name.endsWith('.ts')) {
      const to = join(DIST, from.slice(SRC.length + 1));
      mkdirSync(dirname(to), { recursive: true });
      cpSync(from, to);
    }
  }
}

export function build({ check = true } = {}) {
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    throw new Error('kuzet: dist/ is missing or older than src/, and TypeScript is not installed to build it: run `npm ci` (with the development dependencies), then `npm run build`');
  }
  rmSync(DIST, { recursive: true, force: true });
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), ...(check ? [] : ['--noCheck'])], { stdio: 'inherit', cwd: ROOT });
  copyAssets();
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
}

/** Build when stale; several processes starting at once build once (the others wait for the lock). */
export async function ensureBuilt({ quiet = false } = {}) {
  if (!existsSync(SRC) || !isStale()) return;
  for (let i = 0; ; i++) {
    try {
      closeSync(openSync(LOCK, 'wx'));
      break;
    } catch {
      // a builder is at work, or left a lock more than 5 minutes old behind
      if (existsSync(LOCK) && Date.now() - statSync(LOCK).mtimeMs > 300_000) rmSync(LOCK, { force: true });
      if (i > 3000) throw new Error(`kuzet: ${LOCK} is held; remove it if no build is running`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    if (!isStale()) return;
    if (!quiet) process.stderr.write('kuzet: building dist/ from src/ …\n');
    build({ check: false });
  } finally {
    rmSync(LOCK, { force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--if-stale')) await ensureBuilt();
  else build();
}
