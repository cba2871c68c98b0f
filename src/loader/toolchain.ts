// Whether this machine could build the addon from source: cmake and a C++ compiler on PATH.
import * as fs from 'fs';
import * as path from 'path';

export interface BuildTools {
  cmake: string | null;
  cxx: string | null;
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  if (name.includes('/')) return fs.existsSync(name) ? name : null;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  return null;
}

export function findBuildTools(env: NodeJS.ProcessEnv = process.env): BuildTools {
  const compilers = env.CXX ? [env.CXX.split(' ')[0]] : ['c++', 'g++', 'clang++'];
  return {
    cmake: onPath('cmake', env),
    cxx: compilers.map((c) => onPath(c, env)).find((c) => c !== null) ?? null,
  };
}
