import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import type { ProbeFile } from './types.ts';
import { probeSetProblems, schemaProblems, type ProbeProblem } from './validate.ts';

// Read and check a directory of probes/*.yaml without the config loader (tests, tools). The config
// loader does the same with file:line:column positions; this reports JSON paths.

export interface LoadedProbeFiles {
  files: { file: string; data: ProbeFile }[];
  problems: ProbeProblem[];
}

export function loadProbeDir(dir: string): LoadedProbeFiles {
  const names = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort();
  const files: { file: string; data: ProbeFile }[] = [];
  const problems: ProbeProblem[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    let data: unknown;
    try {
      data = parse(readFileSync(file, 'utf8'), { maxAliasCount: 100 }) ?? {};
    } catch (err) {
      problems.push({ file, path: '/', segments: [], message: `not valid YAML: ${(err as Error).message}` });
      continue;
    }
    const p = schemaProblems(file, data);
    problems.push(...p);
    if (!p.length) files.push({ file, data: data as ProbeFile });
  }
  problems.push(...probeSetProblems(files));
  return { files, problems };
}
