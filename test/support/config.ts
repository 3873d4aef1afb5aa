import { relative } from 'node:path';
import { ConfigError, formatProblem, loadConfig } from '../../src/config/load.ts';
import { schemaPlugins } from '../../src/sections.ts';
import { tmpTree } from './tmp.ts';

/** Load these files as a config folder; the problems as check-config prints them, paths relative to the folder. */
export function configProblems(files: Record<string, string>, env: NodeJS.ProcessEnv = {}): string[] {
  const main = files['kuzet.yaml'] ?? '';
  const withDir = /^[a-z_]+:/.test(main) && !main.includes('probes_dir') ? `${main}probes_dir: probes\n` : main;
  const t = tmpTree({ 'probes/.keep': '', ...files, 'kuzet.yaml': withDir });
  try {
    loadConfig(t.path('kuzet.yaml'), { ...schemaPlugins }, env);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => formatProblem({ ...p, file: relative(t.dir, p.file.startsWith('/') ? p.file : `${process.cwd()}/${p.file}`) }));
  } finally {
    t.cleanup();
  }
}
