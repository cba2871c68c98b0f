// Finds the libtorch to load against, in the order the build (cmake/FindAtmanTorch.cmake) searches too:
// LIBTORCH, then the torch of python3, then the system. The first one found is the one; the others are not searched.
import * as fs from 'fs';
import * as path from 'path';

import { LibtorchFiles, describeLibtorchDir } from './libtorch-files';
import { MajorMinor, parseMajorMinor } from './prebuild-name';
import { PythonTorchAnswer, askPythonTorch } from './python-torch';

export type LibtorchSource = 'LIBTORCH' | 'python3' | 'system';

export interface FoundLibtorch extends LibtorchFiles {
  source: LibtorchSource;
  version: string;
  torch: MajorMinor;
}

export interface LibtorchSearch {
  found: FoundLibtorch | null;
  /** One line per place searched: what was there. */
  steps: string[];
}

export interface DiscoverOptions {
  env?: NodeJS.ProcessEnv;
  /** Answers for python3 (tests); default: run python3. */
  askPython?: () => PythonTorchAnswer;
  /** System library directories; default: the multiarch dir and /usr/local/lib. */
  systemDirs?: string[];
  /** System headers with torch/version.h; default /usr/include and /usr/local/include. */
  systemIncludeDirs?: string[];
}

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

export function defaultSystemDirs(arch: string = process.arch): string[] {
  return [...(MULTIARCH[arch] ? [`/usr/lib/${MULTIARCH[arch]}`] : []), '/usr/local/lib'];
}

function finish(source: LibtorchSource, files: LibtorchFiles | null): FoundLibtorch | string {
  if (!files) return 'no libtorch_cpu library there';
  const torch = parseMajorMinor(files.version);
  if (!files.version || !torch) return `found ${files.libraries.join(', ')} in ${files.libDir} but not their version (no version.py, build-version, version.h or versioned soname)`;
  return { ...files, source, version: files.version, torch };
}

function describeFound(f: FoundLibtorch): string {
  return `libtorch ${f.version} (${f.cuda ? `CUDA ${f.cuda}` : 'CPU'}) in ${f.libDir}`;
}

export function discoverLibtorch(opts: DiscoverOptions = {}): LibtorchSearch {
  const env = opts.env ?? process.env;
  const steps: string[] = [];

  const given = env.LIBTORCH;
  if (given) {
    // The user pointed at one: search no further, whatever is there (the build stops in the same case).
    const libDir = path.join(given, 'lib');
    const r = fs.existsSync(libDir) ? finish('LIBTORCH', describeLibtorchDir(libDir)) : `${libDir} does not exist`;
    steps.push(`LIBTORCH=${given}: ${typeof r === 'string' ? r : describeFound(r)}`);
    return { found: typeof r === 'string' ? null : r, steps };
  }
  steps.push('LIBTORCH: not set');

  if (env.ATMAN_NO_PYTHON === '1') steps.push('python3: skipped (ATMAN_NO_PYTHON=1)');
  else {
    const answer = opts.askPython ? opts.askPython() : askPythonTorch('python3', 20000, env);
    if ('missing' in answer) steps.push(`python3: ${answer.missing}`);
    else {
      const libDir = path.join(answer.torch.dir, 'lib');
      const r = finish('python3', describeLibtorchDir(libDir));
      if (typeof r === 'string') steps.push(`python3: torch in ${answer.torch.dir}, but ${r}`);
      else {
        if (r.cxx11Abi === null && answer.torch.cxx11Abi !== null) {
          r.cxx11Abi = answer.torch.cxx11Abi;
          r.evidence.push('C++ ABI from torch._C._GLIBCXX_USE_CXX11_ABI');
        }
        steps.push(`python3: ${describeFound(r)}`);
        return { found: r, steps };
      }
    }
  }

  const includeDirs = opts.systemIncludeDirs ?? ['/usr/include', '/usr/local/include'];
  const versionHeaders = includeDirs.map((d) => path.join(d, 'torch/csrc/api/include/torch/version.h'));
  for (const dir of opts.systemDirs ?? defaultSystemDirs()) {
    const r = finish('system', describeLibtorchDir(dir, { versionHeaders }));
    steps.push(`system ${dir}: ${typeof r === 'string' ? r : describeFound(r)}`);
    if (typeof r !== 'string') return { found: r, steps };
  }
  return { found: null, steps };
}
