// What a libtorch library directory holds: which torch libraries, their version, CUDA version and C++ ABI, read from
// files only (sonames, version.py of pip torch, build-version of a libtorch zip, version.h, TorchConfig.cmake).
import * as fs from 'fs';
import * as path from 'path';

import { parseMajorMinor } from './prebuild-name';

/** The libtorch libraries the addon links, in dependency order (the order they must be loaded in). */
export const TORCH_LIBRARY_BASES = ['c10', 'c10_cuda', 'torch_cpu', 'torch_cuda', 'torch'] as const;
export type TorchLibraryBase = (typeof TORCH_LIBRARY_BASES)[number];

const LIBRARY_FILE = /^lib(c10|c10_cuda|torch_cpu|torch_cuda|torch)\.so(\.\d+)*$/;

/** The base name of a torch library file: libc10.so.1.13 -> c10; null for any other file. */
export function torchLibraryBase(file: string): TorchLibraryBase | null {
  const m = LIBRARY_FILE.exec(file);
  return m ? (m[1] as TorchLibraryBase) : null;
}

export interface LibtorchFiles {
  libDir: string;
  /** Torch library file names present in libDir (libc10.so, libc10.so.1.13, ...). */
  libraries: string[];
  /** Full version when a file tells it ('1.13.0', '2.11.0+cu130'), else major.minor from the sonames ('1.13'). */
  version: string | null;
  /** The CUDA version ('13.0'), 'unknown' when CUDA libraries are there but nothing tells their version, null: CPU. */
  cuda: string | null;
  /** _GLIBCXX_USE_CXX11_ABI of that libtorch; null when no file tells. */
  cxx11Abi: boolean | null;
  /** Where version, CUDA and ABI were read, for doctor. */
  evidence: string[];
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** __version__ and cuda of a pip torch's version.py. */
export function parseVersionPy(text: string): { version: string | null; cuda: string | null } {
  const version = /^__version__\s*(?::[^=]*)?=\s*['"]([^'"]+)['"]/m.exec(text)?.[1] ?? null;
  const cuda = /^cuda\s*(?::[^=]*)?=\s*['"]([^'"]+)['"]/m.exec(text)?.[1] ?? null;
  return { version, cuda };
}

/** TORCH_VERSION_MAJOR/MINOR/PATCH of torch/version.h. */
export function parseVersionHeader(text: string): string | null {
  const part = (name: string) => new RegExp(`#define\\s+TORCH_VERSION_${name}\\s+(\\d+)`).exec(text)?.[1];
  const [major, minor, patch] = [part('MAJOR'), part('MINOR'), part('PATCH')];
  return major && minor ? `${major}.${minor}${patch ? `.${patch}` : ''}` : null;
}

/** The CUDA version in a version's local part: '2.5.1+cu124' -> '12.4'; '+cpu' or none -> null. */
export function cudaFromLocalVersion(version: string): string | null {
  const m = /\+cu(\d+)(\d)\b/.exec(version);
  return m ? `${m[1]}.${m[2]}` : null;
}

/** _GLIBCXX_USE_CXX11_ABI as TorchConfig.cmake sets it in TORCH_CXX_FLAGS; null when the flag has no value there. */
export function parseTorchConfigAbi(text: string): boolean | null {
  const m = /_GLIBCXX_USE_CXX11_ABI=([01])\b/.exec(text);
  return m ? m[1] === '1' : null;
}

/** major.minor from versioned sonames (Debian: libtorch_cpu.so.1.13); null when the files are unversioned. */
function sonameVersion(libraries: string[]): string | null {
  for (const f of libraries) {
    const m = /^libtorch_cpu\.so\.(\d+)\.(\d+)/.exec(f);
    if (m) return `${m[1]}.${m[2]}`;
  }
  return null;
}

/**
 * Describes the libtorch in libDir; null when it holds no libtorch_cpu library. `versionHeaders` and `cmakeConfigs`
 * add places to look besides the ones next to libDir (the system's headers live in /usr/include).
 */
export function describeLibtorchDir(
  libDir: string,
  more: { versionHeaders?: string[]; cmakeConfigs?: string[] } = {},
): LibtorchFiles | null {
  const libraries = listDir(libDir).filter((f) => torchLibraryBase(f) !== null).sort();
  if (!libraries.some((f) => torchLibraryBase(f) === 'torch_cpu')) return null;
  const evidence: string[] = [];
  const root = path.dirname(libDir);
  const hasCuda = libraries.some((f) => torchLibraryBase(f) === 'torch_cuda');

  let version: string | null = null;
  let cuda: string | null = null;
  const versionPy = readText(path.join(root, 'version.py'));
  const buildVersion = readText(path.join(root, 'build-version'));
  if (versionPy) {
    ({ version, cuda } = parseVersionPy(versionPy));
    if (version) evidence.push(`version from ${path.join(root, 'version.py')}`);
  } else if (buildVersion?.trim()) {
    version = buildVersion.trim();
    cuda = cudaFromLocalVersion(version);
    evidence.push(`version from ${path.join(root, 'build-version')}`);
  }
  const fromSoname = sonameVersion(libraries);
  if (!version) {
    for (const h of [path.join(root, 'include/torch/csrc/api/include/torch/version.h'), ...(more.versionHeaders ?? [])]) {
      const v = parseVersionHeader(readText(h) ?? '');
      // Headers of another version (a stray -dev package) must not override what the sonames say.
      if (v && (!fromSoname || v.startsWith(`${fromSoname}.`))) {
        version = v;
        evidence.push(`version from ${h}`);
        break;
      }
    }
  }
  if (!version && fromSoname) {
    version = fromSoname;
    evidence.push(`version from the sonames in ${libDir}`);
  }
  if (fromSoname && version && !version.startsWith(`${fromSoname}.`) && version !== fromSoname) {
    evidence.push(`the sonames say ${fromSoname}, files say ${version}: using the sonames`);
    version = fromSoname;
  }
  if (version && !parseMajorMinor(version)) version = null;
  if (!hasCuda) cuda = null;
  else if (!cuda) cuda = 'unknown';

  let cxx11Abi: boolean | null = null;
  for (const c of [path.join(root, 'share/cmake/Torch/TorchConfig.cmake'), path.join(libDir, 'cmake/Torch/TorchConfig.cmake'), ...(more.cmakeConfigs ?? [])]) {
    const abi = parseTorchConfigAbi(readText(c) ?? '');
    if (abi !== null) {
      cxx11Abi = abi;
      evidence.push(`C++ ABI from ${c}`);
      break;
    }
  }
  return { libDir, libraries, version, cuda, cxx11Abi, evidence };
}
