import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** A free loopback port (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Start a command in its own process group (so `signal` reaches npm and the node it runs, as a terminal's Ctrl-C does). */
export function start(cmd: string, args: string[], env: Record<string, string>, cwd = ROOT): Started & { signal: (s: NodeJS.Signals) => void } {
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // already gone
    }
  };
  return { child, output: () => out, exited, signal };
}

/** Poll `url` until it answers 200, at most `tries` times `everyMs` apart; returns the attempt count or throws. */
export async function waitFor(url: string, tries: number, everyMs: number, alive: () => boolean = () => true): Promise<number> {
  for (let i = 1; i <= tries; i++) {
    if (!alive()) throw new Error(`process exited before ${url} answered`);
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (r.status === 200) return i;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${url} did not answer after ${tries} tries`);
}

/** Run a command to completion. */
export async function run(cmd: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<{ code: number | null; out: string }> {
  const s = start(cmd, args, env, cwd);
  const code = await s.exited;
  return { code, out: s.output() };
}
