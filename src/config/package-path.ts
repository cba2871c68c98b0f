// Paths the package ships (models/tiny-arith, configs/): a relative path missing from the working directory is looked
// up in the package, so `--model models/tiny-arith` works from any directory once installed.
import * as fs from 'fs';
import * as path from 'path';

const PACKAGE_ROOT = path.join(__dirname, '..', '..');

/** p itself when it exists (or is absolute), else the package's own copy when there is one, else p. */
export function resolvePackagePath(p: string): string {
  if (path.isAbsolute(p) || fs.existsSync(p)) return p;
  const shipped = path.join(PACKAGE_ROOT, p);
  return fs.existsSync(shipped) ? shipped : p;
}
