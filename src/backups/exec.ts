// Run an external tool (pg_dump, pg_restore, tar) and report how it ended. Never throws: a missing
// binary, a non-zero exit, a signal and a timeout all come back as a result with a readable reason.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';

export interface ExecResult {
  ok: boolean;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of stderr (bounded), for reasons. */
  stderr: string;
  /** stdout when `captureStdout` was asked for (bounded). */
  stdout: string;
  /** Why it failed, in words; undefined when ok. */
  reason?: string;
  /** The spawn error code (ENOENT when the tool is missing). */
  spawnError?: string;
  /** With `stdoutTo`: the SHA-256 (hex) and size of what was written, hashed as it streamed by. */
  sha256?: string;
  bytes?: number;
}

export interface ExecOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  captureStdout?: boolean;
  /**
   * Write the child's stdout to this new file (created exclusively), hashing it on the way: the backup needs
   * no second read to learn its SHA-256. A write error (a full disk) stops the child and fails the run.
   */
  stdoutTo?: string;
  /** Stop the child (SIGTERM, then SIGKILL) when this fires. */
  signal?: AbortSignal;
}

const MAX_CAPTURE = 64 * 1024;

export function runTool(cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return new Promise((resolve) => {
    let stderr = '';
    let stdout = '';
    let done = false;
    let timedOut = false;
    let aborted = false;
    const finish = (r: Omit<ExecResult, 'stderr' | 'stdout'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve({ ...r, stderr: stderr.trim(), stdout });
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', opts.captureStdout || opts.stdoutTo ? 'pipe' : 'ignore', 'pipe'] });
    } catch (err) {
      resolve({ ok: false, code: null, signal: null, stderr: '', stdout: '', reason: `could not start ${cmd}: ${(err as Error).message}` });
      return;
    }
    const kill = () => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    };
    const onAbort = () => {
      aborted = true;
      kill();
    };
    opts.signal?.addEventListener('abort', onAbort);
    // A real-time bound on a real child process (the injected Clock governs schedules, not this).
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          kill();
        }, opts.timeoutMs)
      : undefined;
    timer?.unref();
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_CAPTURE);
    });
    let sink: ReturnType<typeof createWriteStream> | undefined;
    let writeError: Error | undefined;
    const hash = createHash('sha256');
    let bytes = 0;
    if (opts.stdoutTo) {
      const out = createWriteStream(opts.stdoutTo, { flags: 'wx' });
      sink = out;
      out.on('error', (err) => {
        writeError ??= err;
        // Keep draining the pipe (into nothing) so the child can be stopped and its streams can close.
        child.stdout?.removeAllListeners('data');
        child.stdout?.resume();
        kill();
      });
      child.stdout?.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        bytes += chunk.length;
        if (!out.write(chunk)) child.stdout?.pause();
      });
      out.on('drain', () => child.stdout?.resume());
    } else {
      child.stdout?.setEncoding('utf8').on('data', (d: string) => {
        if (stdout.length < MAX_CAPTURE) stdout += d;
      });
    }
    let spawnFailed = false;
    child.on('error', (err: NodeJS.ErrnoException) => {
      spawnFailed = true;
      const missing = err.code === 'ENOENT';
      const report = () =>
        finish({
          ok: false,
          code: null,
          signal: null,
          spawnError: err.code,
          reason: missing ? `${cmd} not found on PATH (install the PostgreSQL client tools or tar)` : `could not start ${cmd}: ${err.message}`,
        });
      // The output file may still be opening: answer once it is closed, so the caller's clean-up finds it.
      if (sink && !sink.closed) {
        sink.once('close', report);
        sink.destroy();
      } else report();
    });
    const settle = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done || spawnFailed) return;
      if (writeError) {
        stderr = `${writeError.message}\n${stderr}`;
        return finish({ ok: false, code, signal, reason: `cannot write ${opts.stdoutTo}: ${writeError.message}` });
      }
      if (code === 0) return finish({ ok: true, code, signal, ...(sink ? { sha256: hash.digest('hex'), bytes } : {}) });
      const tail = lastLines(stderr, 3);
      let reason: string;
      if (timedOut) reason = `${cmd} did not finish within ${Math.round((opts.timeoutMs ?? 0) / 1000)} s and was stopped`;
      else if (aborted) reason = `${cmd} was stopped (kuzet is shutting down)`;
      else if (signal) reason = `${cmd} was killed by ${signal}`;
      else reason = `${cmd} exited with code ${code}`;
      finish({ ok: false, code, signal, reason: tail ? `${reason}: ${tail}` : reason });
    };
    child.on('close', (code, signal) => {
      if (!sink) return settle(code, signal);
      // Everything the child wrote must be on its way to the file (or have failed) before the result.
      if (writeError || sink.destroyed) return settle(code, signal);
      sink.end(() => settle(code, signal));
      sink.once('error', () => settle(code, signal));
    });
  });
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').filter(Boolean).slice(-n).join(' | ');
}

/** Environment for a PostgreSQL client tool: connection fields as PG* variables, the password never on argv. */
export function pgEnv(base: NodeJS.ProcessEnv, c: { host?: string; port?: number; user?: string; password?: string; sslmode?: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  // Drop inherited connection settings so only the configured ones apply.
  for (const k of ['PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE', 'PGSSLMODE', 'PGSERVICE']) delete env[k];
  if (c.host) env.PGHOST = c.host;
  if (c.port) env.PGPORT = String(c.port);
  if (c.user) env.PGUSER = c.user;
  if (c.password) env.PGPASSWORD = c.password;
  if (c.sslmode) env.PGSSLMODE = c.sslmode;
  env.PGCONNECT_TIMEOUT ??= '10';
  return env;
}
