import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

// `npm ci` on the oldest Node that package.json declares must print no engine warning: every locked package's
// `engines.node` range has to admit that version.

type V = [number, number, number];
const parse = (s: string): V => {
  const [a = 0, b = 0, c = 0] = s.replace(/\.x$/, '').split('.').map((x) => Number(x));
  return [a, b, c];
};
const cmp = (a: V, b: V) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** The subset of npm ranges the lock file uses: "*", ">=X", "^X.Y.Z", "X", joined by "||". */
function admits(range: string, v: V): boolean {
  return range.split('||').some((part) => {
    const p = part.trim().replace(/^(>=|\^)\s+/, '$1');
    if (p === '*' || p === '') return true;
    if (p.startsWith('>=')) return cmp(v, parse(p.slice(2))) >= 0;
    if (p.startsWith('^')) {
      const min = parse(p.slice(1));
      return v[0] === min[0] && cmp(v, min) >= 0;
    }
    if (/^\d+$/.test(p)) return v[0] === Number(p);
    throw new Error(`range form not understood: ${range}`);
  });
}

describe('declared Node version and the lock file', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { engines: { node: string } };
  const lock = JSON.parse(readFileSync(new URL('../../../package-lock.json', import.meta.url), 'utf8')) as { packages: Record<string, { version?: string; engines?: { node?: string } | string[] }> };
  const min = parse(/^>=(\d+\.\d+\.\d+)$/.exec(pkg.engines.node)?.[1] ?? 'x');

  it('the range check itself tells a Node 22-only package from one that runs on Node 20', () => {
    assert.equal(admits('>=22', [20, 19, 0]), false);
    assert.equal(admits('^20.19.0 || ^22.13.0 || >=24', [20, 18, 1]), false);
    assert.equal(admits('^20.19.0 || ^22.13.0 || >=24', [20, 19, 0]), true);
    assert.equal(admits('>= 10.x', [20, 19, 0]), true);
  });

  it(`every locked package runs on the oldest declared Node (${pkg.engines.node})`, () => {
    assert.ok(!Number.isNaN(min[0]), `package.json engines.node should be ">=X.Y.Z", got ${pkg.engines.node}`);
    const refused = Object.entries(lock.packages)
      .filter(([, p]) => p.engines && !Array.isArray(p.engines) && p.engines.node && !admits(p.engines.node, min))
      .map(([name, p]) => `${name}@${p.version} needs node ${(p.engines as { node: string }).node}`);
    assert.deepEqual(refused, []);
  });
});
