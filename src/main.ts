import { createApp } from './app.ts';
import { runCli } from './cli/index.ts';
import { ConfigError } from './config/load.ts';
import { createLogger } from './log.ts';

// The process entry: parse the command line; for `run`, build the app and trap signals. Nothing else.

async function runDaemon(configFile: string): Promise<void> {
  let app;
  try {
    app = await createApp({ configFile });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\nkuzet: not started: ${err.problems.length} problem(s) in the configuration\n`);
    } else {
      createLogger().error('kuzet could not start', { err: (err as Error).message });
    }
    process.exit(1);
  }
  const a = app;
  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    a.log.info('stopping', { signal: sig });
    const force = setTimeout(() => {
      a.log.error('stop took longer than 30 s; exiting');
      process.exit(1);
    }, 30_000);
    force.unref();
    a.stop().then(
      () => process.exit(0),
      (err: Error) => {
        a.log.error('stop failed', { err: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void a.reload());
  try {
    await a.start();
  } catch (err) {
    // A signal during start-up: the stop under way closed what start() was using, and exits by itself.
    if (stopping) return;
    a.log.error('kuzet could not start', { err: (err as Error).message });
    await a.stop().catch(() => {});
    process.exit(1);
  }
}

const code = await runCli(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }, { run: runDaemon });
if (process.argv[2] !== 'run' || code !== 0) process.exitCode = code;
