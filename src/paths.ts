import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Files kuzet ships beside its code (the working calendar, runbooks): found from the package's own folder, the
// nearest one up from this module that holds package.json, so they are found from src/ and from a compiled dist/.

let root: string | undefined;

export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  root = dir;
  return dir;
}

/** A file or folder that ships with kuzet, e.g. shipped('runbooks'). */
export const shipped = (...parts: string[]): string => join(packageRoot(), ...parts);
