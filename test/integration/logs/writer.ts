// A log writer for the rotation tests, run as its own process: appends zero-padded numbered lines at a steady pace
// (5 per 1 ms timer tick). Mode "rename": reopens the path when it names another inode (what
// an application does after logrotate's postrotate signal). Mode "copytruncate": keeps one O_APPEND fd.
// On SIGTERM it prints how many lines it wrote and exits.
export const WRITER_JS = `
const fs = require('node:fs');
const [path, mode] = process.argv.slice(1);
let fd = fs.openSync(path, 'a');
let ino = fs.fstatSync(fd).ino;
let n = 0;
let stop = false;
process.on('SIGTERM', () => { stop = true; });
function tick() {
  for (let k = 0; k < 5; k++) {
    if (mode === 'rename') {
      try {
        const st = fs.statSync(path);
        if (st.ino !== ino) { fs.closeSync(fd); fd = fs.openSync(path, 'a'); ino = fs.fstatSync(fd).ino; }
      } catch {}
    }
    n++;
    fs.writeSync(fd, String(n).padStart(7, '0') + '\\n');
  }
  if (stop) { fs.closeSync(fd); process.stdout.write(String(n)); process.exit(0); }
  setTimeout(tick, 1);
}
process.stdout.write('ready\\n');
tick();
`;
