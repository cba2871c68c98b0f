// Makes a libtorch's libraries resolvable without LD_LIBRARY_PATH: load them first, RTLD_GLOBAL, in dependency order,
// so that the addon's NEEDED entries (matched by soname) find them already loaded.
import * as os from 'os';
import * as path from 'path';

import { TORCH_LIBRARY_BASES, torchLibraryBase } from './libtorch-files';

// process.dlopen calls dlopen and then looks for a Node module inside; a plain library has none, so it throws
// "Module did not self-register" and dlcloses it. RTLD_NODELETE (glibc's value; Node does not export it) keeps the
// library loaded through that dlclose: without it libc10 and libtorch were unloaded again (checked in /proc/self/maps).
const RTLD_NODELETE = 0x1000;
const FLAGS = os.constants.dlopen.RTLD_NOW | os.constants.dlopen.RTLD_GLOBAL | (process.platform === 'linux' ? RTLD_NODELETE : 0);

const loaded = new Set<string>();

/**
 * The torch library files to preload, in dependency order: the ones the addon links (its NEEDED entries) when known,
 * else one file per library of the directory (the unversioned name when there is one).
 */
export function preloadOrder(libraries: string[], needed: string[] | null): string[] {
  const names = needed
    ? needed.filter((n) => torchLibraryBase(n) !== null && libraries.includes(n))
    : TORCH_LIBRARY_BASES.flatMap((base) => {
        const files = libraries.filter((f) => torchLibraryBase(f) === base).sort((a, b) => a.length - b.length);
        return files.length ? [files[0]] : [];
      });
  const rank = (n: string) => TORCH_LIBRARY_BASES.indexOf(torchLibraryBase(n)!);
  return [...names].sort((a, b) => rank(a) - rank(b));
}

/** Loads each library globally; returns the paths loaded. Throws with the dynamic linker's message on a failure. */
export function preloadLibraries(libDir: string, names: string[]): string[] {
  const done: string[] = [];
  for (const name of names) {
    const file = path.join(libDir, name);
    if (!loaded.has(file)) {
      try {
        process.dlopen({ exports: {} }, file, FLAGS);
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        // The library loaded; only the Node-module lookup after it failed, as it must for a plain library.
        if (!/did not self-register/.test(message)) throw new Error(`could not load ${file}: ${message}`);
      }
      loaded.add(file);
    }
    done.push(file);
  }
  return done;
}
