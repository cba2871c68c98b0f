// libtorch discovery from files (LIBTORCH, python3's torch, the system) on fake directories, the python3 query on a
// fake torch package, and the ELF reader on the committed prebuild.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { askPythonTorch, describeLibtorchDir, discoverLibtorch, readElfDynamic } from '../src/loader';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-discover-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A directory tree of empty files and given texts. */
function tree(root: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

const ABI1 = 'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")\n';
const noPython = () => {
  throw new Error('python3 must not be asked');
};

test('LIBTORCH: an unpacked libtorch zip (build-version, TorchConfig.cmake); nothing else is searched', () => {
  const root = tree(path.join(tmp, 'zip'), {
    'lib/libc10.so': '', 'lib/libc10_cuda.so': '', 'lib/libtorch_cpu.so': '', 'lib/libtorch_cuda.so': '', 'lib/libtorch.so': '', 'lib/libgomp.so.1': '',
    'build-version': '2.11.0+cu130\n',
    'share/cmake/Torch/TorchConfig.cmake': ABI1,
  });
  const s = discoverLibtorch({ env: { LIBTORCH: root }, askPython: noPython, systemDirs: [] });
  expect(s.found).toMatchObject({
    source: 'LIBTORCH', libDir: path.join(root, 'lib'), version: '2.11.0+cu130', torch: { major: 2, minor: 11 }, cuda: '13.0', cxx11Abi: true,
    libraries: ['libc10.so', 'libc10_cuda.so', 'libtorch.so', 'libtorch_cpu.so', 'libtorch_cuda.so'],
  });
  expect(s.steps).toEqual([`LIBTORCH=${root}: libtorch 2.11.0+cu130 (CUDA 13.0) in ${path.join(root, 'lib')}`]);

  const empty = discoverLibtorch({ env: { LIBTORCH: path.join(tmp, 'nothing') }, askPython: noPython, systemDirs: [] });
  expect(empty.found).toBeNull();
  expect(empty.steps).toEqual([`LIBTORCH=${path.join(tmp, 'nothing')}: ${path.join(tmp, 'nothing', 'lib')} does not exist`]);
});

test("python3's torch: version and CUDA from version.py; the ABI python3 reported when TorchConfig.cmake has none", () => {
  const dir = tree(path.join(tmp, 'site', 'torch'), {
    'version.py': "from typing import Optional\n__version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\nhip: Optional[str] = None\n",
    'lib/libc10.so': '', 'lib/libtorch_cpu.so': '', 'lib/libtorch.so': '', 'lib/libc10_cuda.so': '', 'lib/libtorch_cuda.so': '',
  });
  const s = discoverLibtorch({ env: {}, askPython: () => ({ torch: { dir, cxx11Abi: false } }), systemDirs: [] });
  expect(s.found).toMatchObject({ source: 'python3', version: '2.11.0+cu130', cuda: '13.0', cxx11Abi: false });
  expect(s.found!.evidence).toContain('C++ ABI from torch._C._GLIBCXX_USE_CXX11_ABI');
  expect(s.steps[0]).toBe('LIBTORCH: not set');

  const skipped = discoverLibtorch({ env: { ATMAN_NO_PYTHON: '1' }, askPython: noPython, systemDirs: [] });
  expect(skipped).toEqual({ found: null, steps: ['LIBTORCH: not set', 'python3: skipped (ATMAN_NO_PYTHON=1)'] });
});

test("the system: Debian's versioned sonames and version.h; headers of another version do not override the sonames", () => {
  const lib = tree(path.join(tmp, 'sys', 'x86_64-linux-gnu'), {
    'libc10.so.1.13': '', 'libtorch_cpu.so.1.13': '', 'libtorch.so.1.13': '', 'libtorch_cpu.so.1.13.0': '',
    'cmake/Torch/TorchConfig.cmake': ABI1,
  });
  const header = (v: [number, number, number]) =>
    `#define TORCH_VERSION_MAJOR ${v[0]}\n#define TORCH_VERSION_MINOR ${v[1]}\n#define TORCH_VERSION_PATCH ${v[2]}\n`;
  const inc = tree(path.join(tmp, 'inc1'), { 'torch/csrc/api/include/torch/version.h': header([1, 13, 0]) });
  const env = { ATMAN_NO_PYTHON: '1' };
  const s = discoverLibtorch({ env, systemDirs: [path.join(tmp, 'none'), lib], systemIncludeDirs: [inc] });
  expect(s.found).toMatchObject({ source: 'system', version: '1.13.0', cuda: null, cxx11Abi: true });
  expect(s.steps.slice(2)).toEqual([`system ${path.join(tmp, 'none')}: no libtorch_cpu library there`, `system ${lib}: libtorch 1.13.0 (CPU) in ${lib}`]);

  const inc2 = tree(path.join(tmp, 'inc2'), { 'torch/csrc/api/include/torch/version.h': header([2, 1, 0]) });
  expect(discoverLibtorch({ env, systemDirs: [lib], systemIncludeDirs: [inc2] }).found).toMatchObject({ version: '1.13', torch: { major: 1, minor: 13 } });
});

test('a torch library directory without any version is reported as such, not guessed', () => {
  const lib = tree(path.join(tmp, 'bare', 'lib'), { 'libc10.so': '', 'libtorch_cpu.so': '' });
  expect(describeLibtorchDir(lib)).toMatchObject({ version: null, cuda: null, cxx11Abi: null });
  const s = discoverLibtorch({ env: { ATMAN_NO_PYTHON: '1' }, systemDirs: [lib], systemIncludeDirs: [] });
  expect(s.found).toBeNull();
  expect(s.steps[2]).toMatch(/but not their version \(no version\.py, build-version, version\.h or versioned soname\)$/);
});

test('askPythonTorch finds a torch package without importing it (a fake one that would throw on import)', () => {
  const site = tree(path.join(tmp, 'pysite'), {
    'torch/__init__.py': "raise RuntimeError('imported')\n",
    'torch/share/cmake/Torch/TorchConfig.cmake': ABI1,
  });
  const answer = askPythonTorch('python3', 20000, { ...process.env, PYTHONPATH: site });
  if ('missing' in answer) {
    // A machine without python3 (a bare CI image): the answer must say so, not throw.
    expect(answer.missing).toBe('no python3 on PATH');
  } else {
    expect(answer).toEqual({ torch: { dir: path.join(site, 'torch'), cxx11Abi: true } });
  }
  expect(askPythonTorch(path.join(tmp, 'no-such-python'))).toEqual({ missing: `no ${path.join(tmp, 'no-such-python')} on PATH` });
});

test('readElfDynamic: the NEEDED entries and RUNPATH of the committed CPU prebuild; null for a non-ELF file', () => {
  const elf = readElfDynamic(path.join(__dirname, '..', 'prebuilds', 'linux-x64', 'atman-native.torch-1.13.cpu.node'));
  expect(elf).not.toBeNull();
  expect(elf!.needed.filter((n) => /^lib(c10|torch)/.test(n))).toEqual(['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13']);
  expect(elf!.needed).toContain('libc.so.6');
  expect(elf!.runpath).toEqual(['/usr/lib/x86_64-linux-gnu']);
  expect(readElfDynamic(path.join(__dirname, '..', 'package.json'))).toBeNull();
  expect(readElfDynamic(path.join(tmp, 'missing.node'))).toBeNull();
});
