#!/usr/bin/env node
// Entry for the `kuzet` command: runs the compiled JavaScript in dist/. In a checkout (src/ present) whose dist/ is
// missing or older than src/, it is built first; an installed image ships dist/ only.
import { existsSync } from 'node:fs';

if (existsSync(new URL('../src/', import.meta.url)) && existsSync(new URL('../scripts/build.js', import.meta.url))) {
  const { ensureBuilt } = await import('../scripts/build.js');
  await ensureBuilt();
}
await import('../dist/main.js');
