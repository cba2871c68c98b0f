// Which prebuilds fit a libtorch: pure functions of the libtorch found and the prebuild files, so that the loader,
// the npm install hook and the tests make the same decision.
import { torchLibraryBase } from './libtorch-files';
import { MajorMinor, PrebuildTarget, describeTarget, parseMajorMinor, parsePrebuildName } from './prebuild-name';

/** What selection needs to know of the libtorch found. */
export interface LibtorchFacts {
  libDir: string;
  version: string;
  torch: MajorMinor;
  cuda: string | null;
  cxx11Abi: boolean | null;
  libraries: string[];
}

export interface PrebuildFile {
  /** Path of the file (only its base name is parsed). */
  file: string;
  /** The NEEDED entries of the file; null when they could not be read (that check is then skipped). */
  needed: string[] | null;
}

export interface UsablePrebuild extends PrebuildFile {
  target: PrebuildTarget;
  /** Why it fits, for doctor. */
  why: string;
  /** Set for a CPU build on a CUDA libtorch: it loads, but training runs on the CPU. */
  cpuOnCuda: boolean;
}

export interface Rejection {
  file: string;
  reason: string;
  fix: string;
}

export interface Selection {
  /** Best first. */
  usable: UsablePrebuild[];
  rejected: Rejection[];
}

const FROM_SOURCE = 'or build from source for this libtorch (needs cmake and g++): node node_modules/atman-native/scripts/install.js';

function baseName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1);
}

function libtorchText(lt: LibtorchFacts): string {
  return `libtorch ${lt.version} (${lt.cuda ? `CUDA ${lt.cuda}` : 'CPU'})`;
}

/** Why a prebuild built for `t` cannot load against `lt`, or null when it can. Rank: lower is better. */
function judge(t: PrebuildTarget, p: PrebuildFile, lt: LibtorchFacts): { reason: string; fix: string } | { rank: number; why: string } {
  const found = libtorchText(lt);
  if (t.torch.major !== lt.torch.major || t.torch.minor !== lt.torch.minor)
    return {
      reason: `built for ${describeTarget(t)}; found ${found}: libtorch has no stable ABI across minor versions`,
      fix: `use the libtorch it is for, ${describeTarget(t)} (README, "Install and prebuilt binaries"), ${FROM_SOURCE}`,
    };
  if (lt.cxx11Abi !== null && lt.cxx11Abi !== t.cxx11Abi)
    return {
      reason: `built with _GLIBCXX_USE_CXX11_ABI=${t.cxx11Abi ? 1 : 0}; the libtorch found uses ${lt.cxx11Abi ? 1 : 0} (a C++ ABI mismatch)`,
      fix: `use a libtorch built with the ${t.cxx11Abi ? 'C++11' : 'pre-C++11'} ABI ${FROM_SOURCE}`,
    };
  let rank = 0;
  let cpuOnCuda = false;
  if (t.cuda) {
    if (!lt.cuda)
      return {
        reason: `a CUDA build (${describeTarget(t)}); the libtorch found is CPU-only`,
        fix: `for the GPU: pip install torch (a CUDA ${t.cuda.major}.${t.cuda.minor} build) and make sure python3 finds it, or LIBTORCH=<libtorch with CUDA>`,
      };
    if (lt.cuda !== 'unknown') {
      const have = parseMajorMinor(lt.cuda) ?? { major: -1, minor: -1 };
      if (have.major !== t.cuda.major || have.minor < t.cuda.minor)
        return {
          reason: `built for CUDA ${t.cuda.major}.${t.cuda.minor}; the libtorch found has CUDA ${lt.cuda} (needs CUDA ${t.cuda.major}.x, x >= ${t.cuda.minor})`,
          fix: `install a torch built for CUDA ${t.cuda.major}.${t.cuda.minor} (pip install torch --index-url https://download.pytorch.org/whl/cu${t.cuda.major}${t.cuda.minor}) ${FROM_SOURCE}`,
        };
      if (have.minor !== t.cuda.minor) rank = 1;
    } else rank = 1;
  } else if (lt.cuda) {
    rank = 2;
    cpuOnCuda = true;
  }
  const torchNeeded = (p.needed ?? []).filter((n) => torchLibraryBase(n) !== null);
  const missing = torchNeeded.filter((n) => !lt.libraries.includes(n));
  if (missing.length)
    return {
      reason: `links ${missing.join(', ')}, which ${lt.libDir} lacks (it has ${lt.libraries.join(', ')}): built against a libtorch whose libraries are named differently (Debian's versioned sonames vs pip/zip ones)`,
      fix: `use the libtorch it was built for ${FROM_SOURCE}`,
    };
  const why = `${describeTarget(t)} matches the ${found} found${cpuOnCuda ? ' (a CPU build: no CUDA prebuild fits, so training runs on the CPU)' : ''}`;
  return { rank, why: rank === 1 && !cpuOnCuda ? `${why}; CUDA minor versions differ (compatible within CUDA ${t.cuda?.major})` : why };
}

/** The prebuilds that fit `lt`, best first, and why each other one does not. */
export function selectPrebuilds(lt: LibtorchFacts, files: PrebuildFile[]): Selection {
  const usable: (UsablePrebuild & { rank: number })[] = [];
  const rejected: Rejection[] = [];
  for (const p of files) {
    const target = parsePrebuildName(baseName(p.file));
    if (!target) {
      rejected.push({
        file: p.file,
        reason: 'its name does not follow atman-native.torch-<major>.<minor>.<cpu|cuXY>[.precxx11].node',
        fix: 'rename or remove it (README: "Install and prebuilt binaries")',
      });
      continue;
    }
    const j = judge(target, p, lt);
    if ('reason' in j) rejected.push({ file: p.file, ...j });
    else usable.push({ ...p, target, why: j.why, cpuOnCuda: !target.cuda && lt.cuda !== null, rank: j.rank });
  }
  usable.sort((a, b) => a.rank - b.rank);
  return { usable: usable.map(({ rank: _rank, ...u }) => u), rejected };
}
