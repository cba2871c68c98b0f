// The loader's decisions as pure functions: prebuild names, which prebuild fits which libtorch (and why not),
// the order libraries are preloaded in, and the one error that lists every cause with its fix.
import {
  LibtorchFacts,
  describeTarget,
  formatLoadError,
  parsePrebuildName,
  preloadOrder,
  prebuildFileName,
  selectPrebuilds,
} from '../src/loader';

const DEBIAN_LIBS = ['libc10.so', 'libc10.so.1.13', 'libtorch.so', 'libtorch.so.1.13', 'libtorch_cpu.so', 'libtorch_cpu.so.1.13'];
const PIP_LIBS = ['libc10.so', 'libc10_cuda.so', 'libtorch.so', 'libtorch_cpu.so', 'libtorch_cuda.so'];

const debian: LibtorchFacts = { libDir: '/usr/lib/x86_64-linux-gnu', version: '1.13.0', torch: { major: 1, minor: 13 }, cuda: null, cxx11Abi: true, libraries: DEBIAN_LIBS };
const pipCuda = (cuda: string | null, over: Partial<LibtorchFacts> = {}): LibtorchFacts => ({
  libDir: '/venv/torch/lib', version: '2.11.0+cu130', torch: { major: 2, minor: 11 }, cuda, cxx11Abi: true, libraries: PIP_LIBS, ...over,
});

const CPU_113 = { file: '/pkg/prebuilds/linux-x64/atman-native.torch-1.13.cpu.node', needed: ['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13', 'libstdc++.so.6'] };
const CU130 = { file: '/pkg/prebuilds/linux-x64/atman-native.torch-2.11.cu130.node', needed: ['libc10.so', 'libc10_cuda.so', 'libtorch_cpu.so', 'libtorch_cuda.so', 'libtorch.so'] };
const CPU_211 = { file: '/pkg/prebuilds/linux-x64/atman-native.torch-2.11.cpu.node', needed: ['libc10.so', 'libtorch_cpu.so', 'libtorch.so'] };

describe('prebuild names', () => {
  test('format and parse are inverses, with the CUDA tag pip uses and the old-ABI tag', () => {
    const cases = [
      { torch: { major: 1, minor: 13 }, cuda: null, cxx11Abi: true },
      { torch: { major: 2, minor: 11 }, cuda: { major: 13, minor: 0 }, cxx11Abi: true },
      { torch: { major: 2, minor: 4 }, cuda: { major: 11, minor: 8 }, cxx11Abi: false },
    ];
    expect(cases.map(prebuildFileName)).toEqual([
      'atman-native.torch-1.13.cpu.node',
      'atman-native.torch-2.11.cu130.node',
      'atman-native.torch-2.4.cu118.precxx11.node',
    ]);
    for (const c of cases) expect(parsePrebuildName(prebuildFileName(c))).toEqual(c);
    expect(describeTarget(cases[1])).toBe('libtorch 2.11 + CUDA 13.0');
    expect(describeTarget(cases[2])).toBe('libtorch 2.4 + CUDA 11.8, pre-C++11 ABI');
  });

  test('names outside the scheme (node-gyp-build style, unknown tags, no torch tag) are not prebuilds', () => {
    for (const name of ['atman_native.node', 'node.napi.node', 'atman-native.torch-2.11.cu130.musl.node', 'atman-native.torch-2.cpu.node', 'atman-native.torch-2.11.rocm6.node', 'atman-native.torch-1.13.cpu.so'])
      expect(parsePrebuildName(name)).toBeNull();
  });
});

describe('selectPrebuilds', () => {
  test("Debian's CPU libtorch 1.13: the 1.13 CPU prebuild; the CUDA one is rejected for its libtorch version", () => {
    const s = selectPrebuilds(debian, [CU130, CPU_113]);
    expect(s.usable.map((u) => u.file)).toEqual([CPU_113.file]);
    expect(s.usable[0].cpuOnCuda).toBe(false);
    expect(s.usable[0].why).toBe('libtorch 1.13 (CPU) matches the libtorch 1.13.0 (CPU) found');
    expect(s.rejected).toEqual([
      expect.objectContaining({ file: CU130.file, reason: expect.stringContaining('built for libtorch 2.11 + CUDA 13.0; found libtorch 1.13.0 (CPU)') }),
    ]);
    expect(s.rejected[0].fix).toMatch(/build from source for this libtorch \(needs cmake and g\+\+\): node node_modules\/atman-native\/scripts\/install\.js/);
  });

  test('pip torch 2.11 + CUDA 13.0: the CUDA prebuild first, a CPU prebuild of the same libtorch after it (marked cpuOnCuda)', () => {
    const s = selectPrebuilds(pipCuda('13.0'), [CPU_211, CPU_113, CU130]);
    expect(s.usable.map((u) => [u.file, u.cpuOnCuda])).toEqual([[CU130.file, false], [CPU_211.file, true]]);
    expect(s.usable[1].why).toMatch(/a CPU build: no CUDA prebuild fits, so training runs on the CPU/);
    expect(s.rejected.map((r) => r.file)).toEqual([CPU_113.file]);
  });

  test('CUDA versions: another major or an older minor is rejected; a newer minor of the same major fits, ranked lower', () => {
    expect(selectPrebuilds(pipCuda('12.8'), [CU130]).rejected[0].reason).toBe(
      'built for CUDA 13.0; the libtorch found has CUDA 12.8 (needs CUDA 13.x, x >= 0)',
    );
    const cu131 = { ...CU130, file: CU130.file.replace('cu130', 'cu131') };
    expect(selectPrebuilds(pipCuda('13.0'), [cu131]).rejected[0].reason).toMatch(/needs CUDA 13\.x, x >= 1/);
    const newer = selectPrebuilds(pipCuda('13.2'), [CPU_211, CU130]);
    expect(newer.usable.map((u) => u.file)).toEqual([CU130.file, CPU_211.file]);
    expect(newer.usable[0].why).toMatch(/CUDA minor versions differ/);
    // CUDA libraries whose version no file tells: the CUDA prebuild is tried (loading decides).
    expect(selectPrebuilds(pipCuda('unknown'), [CU130]).usable).toHaveLength(1);
  });

  test('a CUDA prebuild on a CPU-only libtorch is rejected with the way to a CUDA torch', () => {
    const s = selectPrebuilds(pipCuda(null, { version: '2.11.0+cpu', libraries: ['libc10.so', 'libtorch.so', 'libtorch_cpu.so'] }), [CU130, CPU_211]);
    expect(s.usable.map((u) => u.file)).toEqual([CPU_211.file]);
    expect(s.rejected[0]).toMatchObject({ file: CU130.file, reason: 'a CUDA build (libtorch 2.11 + CUDA 13.0); the libtorch found is CPU-only' });
    expect(s.rejected[0].fix).toMatch(/pip install torch/);
  });

  test('C++ ABI: a mismatch is rejected; an unknown ABI is not held against a prebuild', () => {
    expect(selectPrebuilds(pipCuda('13.0', { cxx11Abi: false }), [CU130]).rejected[0].reason).toBe(
      'built with _GLIBCXX_USE_CXX11_ABI=1; the libtorch found uses 0 (a C++ ABI mismatch)',
    );
    const old = { ...CU130, file: CU130.file.replace('.node', '.precxx11.node') };
    expect(selectPrebuilds(pipCuda('13.0', { cxx11Abi: false }), [old]).usable).toHaveLength(1);
    expect(selectPrebuilds(pipCuda('13.0', { cxx11Abi: null }), [CU130]).usable).toHaveLength(1);
  });

  test("library names: Debian's prebuild links versioned sonames that a pip/zip libtorch 1.13 does not have", () => {
    const zip113: LibtorchFacts = { ...debian, libDir: '/opt/libtorch/lib', libraries: ['libc10.so', 'libtorch.so', 'libtorch_cpu.so'] };
    const s = selectPrebuilds(zip113, [CPU_113]);
    expect(s.usable).toEqual([]);
    expect(s.rejected[0].reason).toMatch(/^links libc10\.so\.1\.13, libtorch_cpu\.so\.1\.13, libtorch\.so\.1\.13, which \/opt\/libtorch\/lib lacks/);
    // Unknown NEEDED entries (an unreadable file): that check is skipped.
    expect(selectPrebuilds(zip113, [{ ...CPU_113, needed: null }]).usable).toHaveLength(1);
  });

  test('a file whose name is outside the scheme is listed with the reason', () => {
    const s = selectPrebuilds(debian, [{ file: '/pkg/prebuilds/linux-x64/atman_native.node', needed: null }]);
    expect(s.rejected[0].reason).toMatch(/does not follow atman-native\.torch-<major>\.<minor>\.<cpu\|cuXY>\[\.precxx11\]\.node/);
  });
});

test('preloadOrder: dependency order (c10, c10_cuda, torch_cpu, torch_cuda, torch), only libraries the directory has', () => {
  expect(preloadOrder(PIP_LIBS, ['libtorch.so', 'libtorch_cuda.so', 'libcudart.so.13', 'libc10_cuda.so', 'libtorch_cpu.so', 'libc10.so'])).toEqual([
    'libc10.so', 'libc10_cuda.so', 'libtorch_cpu.so', 'libtorch_cuda.so', 'libtorch.so',
  ]);
  expect(preloadOrder(DEBIAN_LIBS, CPU_113.needed)).toEqual(['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13']);
  // Without the addon's NEEDED entries: one file per library, the unversioned name where there is one.
  expect(preloadOrder(DEBIAN_LIBS, null)).toEqual(['libc10.so', 'libtorch_cpu.so', 'libtorch.so']);
});

test('formatLoadError: one message, each cause numbered with its fix', () => {
  const text = formatLoadError('linux-x64', [
    { what: 'no libtorch found (LIBTORCH: not set)', fix: 'apt-get install libtorch-dev' },
    { what: 'no local build', fix: 'npm rebuild atman-native' },
  ]);
  expect(text).toBe(
    [
      'atman-native: no native addon could be loaded on linux-x64. What was found, and the fix for each:',
      '  1. no libtorch found (LIBTORCH: not set)',
      '     fix: apt-get install libtorch-dev',
      '  2. no local build',
      '     fix: npm rebuild atman-native',
      'Any one fix is enough. `npx atman-native doctor` shows the search in detail.',
    ].join('\n'),
  );
});
