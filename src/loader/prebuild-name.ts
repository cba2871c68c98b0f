// The naming scheme of prebuilt addons. Kept node-gyp-build's layout (prebuilds/<platform>-<arch>/); the file name
// carries what a prebuild needs from the libtorch it loads against, as dot-separated tags:
//   atman-native.torch-<major>.<minor>.<cpu | cu<cuda major><cuda minor>>[.precxx11].node
// e.g. atman-native.torch-1.13.cpu.node (Debian's libtorch), atman-native.torch-2.11.cu130.node (pip torch, CUDA 13.0).
// `precxx11` marks a build for a libtorch compiled with the old libstdc++ ABI (_GLIBCXX_USE_CXX11_ABI=0).

export const PREBUILD_PREFIX = 'atman-native';

export interface MajorMinor {
  major: number;
  minor: number;
}

/** What a prebuild was built against. */
export interface PrebuildTarget {
  torch: MajorMinor;
  /** The CUDA version of the libtorch it was built against; null for a CPU build. */
  cuda: MajorMinor | null;
  cxx11Abi: boolean;
}

/** The prebuilds directory of a platform, node-gyp-build style: linux-x64. */
export function platformDir(platform: string = process.platform, arch: string = process.arch): string {
  return `${platform}-${arch}`;
}

/** '13.0' -> cu130 (the tag pip uses for its CUDA wheels). */
export function cudaTag(cuda: MajorMinor): string {
  return `cu${cuda.major}${cuda.minor}`;
}

/** cu130 -> {13, 0}, cu118 -> {11, 8}: the last digit is the minor version. */
export function parseCudaTag(tag: string): MajorMinor | null {
  const m = /^cu(\d+)(\d)$/.exec(tag);
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

/** The leading major.minor of a version string ('2.11.0+cu130' -> {2, 11}); null when it has none. */
export function parseMajorMinor(version: string | null | undefined): MajorMinor | null {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  return m ? { major: Number(m[1]), minor: Number(m[2]) } : null;
}

export function prebuildFileName(t: PrebuildTarget): string {
  const tags = [PREBUILD_PREFIX, `torch-${t.torch.major}.${t.torch.minor}`, t.cuda ? cudaTag(t.cuda) : 'cpu'];
  if (!t.cxx11Abi) tags.push('precxx11');
  return `${tags.join('.')}.node`;
}

const NAME = /^atman-native\.torch-(\d+)\.(\d+)\.(cpu|cu\d+)((?:\.[a-z0-9]+)*)\.node$/;

/** The target of a prebuild file name (a base name), or null when the name does not follow the scheme. */
export function parsePrebuildName(file: string): PrebuildTarget | null {
  const m = NAME.exec(file);
  if (!m) return null;
  const cuda = m[3] === 'cpu' ? null : parseCudaTag(m[3]);
  if (m[3] !== 'cpu' && !cuda) return null;
  const extra = m[4].split('.').filter(Boolean);
  if (extra.some((tag) => tag !== 'precxx11')) return null; // a tag this version does not know: not for it
  return { torch: { major: Number(m[1]), minor: Number(m[2]) }, cuda, cxx11Abi: !extra.includes('precxx11') };
}

/** 'libtorch 2.11 + CUDA 13.0' / 'libtorch 1.13 (CPU)', plus the ABI when it is the old one. */
export function describeTarget(t: PrebuildTarget): string {
  const base = `libtorch ${t.torch.major}.${t.torch.minor}${t.cuda ? ` + CUDA ${t.cuda.major}.${t.cuda.minor}` : ' (CPU)'}`;
  return t.cxx11Abi ? base : `${base}, pre-C++11 ABI`;
}
