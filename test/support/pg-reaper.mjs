/* global process, setTimeout */
// Stops the test run's embedded PostgreSQL server once the run is over.
//   node pg-reaper.mjs RUNNER_PID DIR POSTMASTER_PID
// Waits for RUNNER_PID to exit, asks the server for a fast shutdown, waits for it, then removes DIR.
import { rmSync } from 'node:fs';

const [runner, dir, postmaster] = process.argv.slice(2);
const alive = (pid) => {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

while (alive(runner)) await sleep(250);
try {
  process.kill(Number(postmaster), 'SIGINT');
} catch {
  // already gone
}
for (let i = 0; i < 200 && alive(postmaster); i++) await sleep(50);
if (alive(postmaster)) process.kill(Number(postmaster), 'SIGKILL');
rmSync(dir, { recursive: true, force: true });
