// The loader for real: the committed CPU prebuild loads through it in a fresh process with build/Release skipped and
// no LD_LIBRARY_PATH; a CUDA libtorch with only the CPU prebuild fitting warns once; nothing usable throws one error
// listing each cause with its fix.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

import { discoverLibtorch, lastLoadReport, loadNativeAddon } from '../src/loader';

const repo = path.join(__dirname, '..');
const PREBUILD = path.join(repo, 'prebuilds', 'linux-x64', 'atman-native.torch-1.13.cpu.node');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-loader-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// The child runs the loader as plain JS: src/loader transpiled (it needs Node built-ins only).
const loaderDir = path.join(tmp, 'loader');
fs.mkdirSync(loaderDir);
for (const f of fs.readdirSync(path.join(repo, 'src', 'loader')).filter((f) => f.endsWith('.ts'))) {
  const out = ts.transpileModule(fs.readFileSync(path.join(repo, 'src', 'loader', f), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  fs.writeFileSync(path.join(loaderDir, f.replace(/\.ts$/, '.js')), out.outputText);
}
const CHILD = `
const fs = require('fs');
const { loadNativeAddon } = require(${JSON.stringify(loaderDir)});
const first = loadNativeAddon({ root: process.argv[1] });
const second = loadNativeAddon({ root: process.argv[1] });
const a = first.addon;
const t = a.fromTypedArray(new Float32Array([1.5, -2]), [2], 'float32', 'cpu', false, false);
const mapped = [...new Set(fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').map((l) => l.split(/\\s+/).pop()).filter((f) => /\\/lib(c10|torch)[^/]*$/.test(f)))];
console.log(JSON.stringify({ report: first.report, buildInfo: a.buildInfo(), data: Array.from(a.dataSync(t)), same: first.addon === second.addon, mapped, ops: a.opNames(), exports: Object.keys(a).sort() }));
`;

function runChild(env: Record<string, string>) {
  const base = { ...process.env };
  delete base.LD_LIBRARY_PATH;
  delete base.LIBTORCH;
  const r = spawnSync(process.execPath, ['-e', CHILD, repo], {
    env: { ...base, ATMAN_SKIP_LOCAL_BUILD: '1', ATMAN_NO_PYTHON: '1', ...env },
    encoding: 'utf8',
    timeout: 120000,
  });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop()!), stderr: r.stderr };
}

const system = discoverLibtorch({ env: { ATMAN_NO_PYTHON: '1' } }).found;

test("the committed CPU prebuild loads against the system libtorch, preloaded, with build/Release skipped", () => {
  expect(system).toMatchObject({ source: 'system', torch: { major: 1, minor: 13 }, cuda: null });
  const { out, stderr } = runChild({});
  expect(out.report.chosen).toEqual({
    file: PREBUILD,
    kind: 'prebuild',
    why: 'libtorch 1.13 (CPU) matches the libtorch 1.13.0 (CPU) found (found by system)',
  });
  expect(out.report.candidates[0]).toMatchObject({ kind: 'local build', outcome: 'not tried', reason: 'ATMAN_SKIP_LOCAL_BUILD=1' });
  expect(out.report.preloaded).toEqual(['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13'].map((f) => path.join(system!.libDir, f)));
  expect(out.buildInfo).toMatchObject({ variant: 'cpu', cxx11Abi: true });
  expect(out.buildInfo.torchVersion).toMatch(/^1\.13\./);
  expect(out.data).toEqual([1.5, -2]);
  expect(out.same).toBe(true); // a second load returns the same module (Node's cache): the addon initialises once
  // Every preloaded library stayed loaded after process.dlopen's "did not self-register" (RTLD_NODELETE).
  for (const lib of ['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13'])
    expect(out.mapped.some((m: string) => path.basename(m).startsWith(lib))).toBe(true);
  expect(out.report.warnings).toEqual([]);
  expect(stderr).toBe('');

  // Made from the current sources: the same ops and exports as the local build (CI builds that from source first).
  // A failure here means native/ or binding/ changed since: remake the prebuild with scripts/prebuild.sh.
  const local = path.join(repo, 'build', 'Release', 'atman_native.node');
  expect(fs.existsSync(local)).toBe(true);
  const localAddon = require(local) as { opNames(): string[] };
  expect(out.ops).toEqual(localAddon.opNames());
  expect(out.exports).toEqual(Object.keys(localAddon).sort());
}, 150000);

test('preloading: a plain library stays loaded after process.dlopen\'s "did not self-register"; other errors are thrown', () => {
  const libs = ['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13'];
  const script = `
    const fs = require('fs');
    const { preloadLibraries } = require(${JSON.stringify(loaderDir)});
    const loaded = preloadLibraries(process.argv[1], ${JSON.stringify(libs)});
    const maps = fs.readFileSync('/proc/self/maps', 'utf8');
    let error = '';
    try { preloadLibraries(process.argv[1], ['libnot-there.so']); } catch (e) { error = e.message; }
    console.log(JSON.stringify({ loaded, mapped: ${JSON.stringify(libs)}.map((l) => maps.includes('/' + l)), error }));
  `;
  const r = spawnSync(process.execPath, ['-e', script, system!.libDir], { encoding: 'utf8', timeout: 120000 });
  expect(r.stderr).toBe('');
  const out = JSON.parse(r.stdout);
  expect(out.loaded).toEqual(libs.map((l) => path.join(system!.libDir, l)));
  expect(out.mapped).toEqual([true, true, true]); // without RTLD_NODELETE, Node's dlclose unloaded libc10 and libtorch
  expect(out.error).toMatch(/^could not load .*libnot-there\.so: .*cannot open shared object file/);
}, 150000);

test('a CUDA libtorch that only the CPU prebuild fits: it loads, with one loud warning on stderr', () => {
  // A LIBTORCH whose CPU libraries are the system's and which claims CUDA 11.7 (libtorch_cuda is never loaded).
  const root = path.join(tmp, 'cuda-libtorch');
  fs.mkdirSync(path.join(root, 'lib'), { recursive: true });
  fs.mkdirSync(path.join(root, 'share/cmake/Torch'), { recursive: true });
  for (const f of ['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13']) fs.symlinkSync(path.join(system!.libDir, f), path.join(root, 'lib', f));
  fs.writeFileSync(path.join(root, 'lib', 'libtorch_cuda.so.1.13'), '');
  fs.writeFileSync(path.join(root, 'build-version'), '1.13.0+cu117\n');
  fs.writeFileSync(path.join(root, 'share/cmake/Torch/TorchConfig.cmake'), 'set(TORCH_CXX_FLAGS "-D_GLIBCXX_USE_CXX11_ABI=1")\n');

  const { out, stderr } = runChild({ LIBTORCH: root });
  expect(out.report.libtorch).toMatchObject({ source: 'LIBTORCH', version: '1.13.0+cu117', cuda: '11.7' });
  expect(out.report.chosen.file).toBe(PREBUILD);
  expect(out.report.chosen.why).toMatch(/a CPU build: no CUDA prebuild fits, so training runs on the CPU/);
  expect(out.report.preloaded).toEqual(['libc10.so.1.13', 'libtorch_cpu.so.1.13', 'libtorch.so.1.13'].map((f) => path.join(root, 'lib', f)));
  expect(out.report.warnings).toHaveLength(1);
  expect(out.report.warnings[0]).toMatch(/^a CUDA libtorch was found \(1\.13\.0\+cu117 in .*, by LIBTORCH\) but the CPU build .* is loaded: everything runs on the CPU/);
  expect(stderr.match(/\*\*\* atman-native WARNING: a CUDA libtorch was found/g)).toHaveLength(1); // loaded twice, warned once
}, 150000);

test('nothing usable: one error listing each cause (prebuilds for another libtorch, a bad name, no compiler) with its fix', () => {
  const root = path.join(tmp, 'pkg');
  fs.mkdirSync(path.join(root, 'prebuilds', 'linux-x64'), { recursive: true });
  fs.copyFileSync(PREBUILD, path.join(root, 'prebuilds', 'linux-x64', 'atman-native.torch-2.11.cu130.node'));
  fs.writeFileSync(path.join(root, 'prebuilds', 'linux-x64', 'atman_native.node'), '');
  const cpuLibtorch = path.join(tmp, 'cpu-libtorch');
  fs.mkdirSync(path.join(cpuLibtorch, 'lib'), { recursive: true });
  for (const f of ['libc10.so', 'libtorch_cpu.so', 'libtorch.so']) fs.writeFileSync(path.join(cpuLibtorch, 'lib', f), '');
  fs.writeFileSync(path.join(cpuLibtorch, 'build-version'), '2.4.1+cpu\n');

  let message = '';
  try {
    loadNativeAddon({ root, env: { LIBTORCH: cpuLibtorch, PATH: '' }, platform: 'linux', arch: 'x64' });
  } catch (e) {
    message = (e as Error).message;
  }
  const lines = message.split('\n');
  expect(lines[0]).toBe('atman-native: no native addon could be loaded on linux-x64. What was found, and the fix for each:');
  expect(lines.filter((l) => /^ {2}\d\. /.test(l))).toEqual([
    '  1. prebuilds/linux-x64/atman-native.torch-2.11.cu130.node: built for libtorch 2.11 + CUDA 13.0; found libtorch 2.4.1+cpu (CPU): libtorch has no stable ABI across minor versions',
    '  2. prebuilds/linux-x64/atman_native.node: its name does not follow atman-native.torch-<major>.<minor>.<cpu|cuXY>[.precxx11].node',
    '  3. no local build (build/Release/atman_native.node), and this machine cannot build one: cmake and a C++ compiler (c++/g++) not on PATH',
  ]);
  expect(lines.filter((l) => /^ {5}fix: /.test(l))).toHaveLength(3);
  expect(message).toMatch(/fix: apt-get install cmake g\+\+ \(and a libtorch\), then build from source: node .*scripts\/install\.js/);
  expect(lastLoadReport()!.error).toBe(message);
  expect(lastLoadReport()!.candidates.map((c) => c.outcome)).toEqual(['rejected', 'rejected']);

  // No libtorch at all: that is the cause named, with the ways to get one; the prebuilds are not tried.
  expect(() => loadNativeAddon({ root, env: { LIBTORCH: path.join(tmp, 'none'), PATH: '' } })).toThrow(
    /1\. no libtorch found \(LIBTORCH=.*none\/lib does not exist\)\n {5}fix: install one: Debian\/Ubuntu CPU: apt-get install libtorch-dev; CUDA: pip install torch/,
  );
  expect(lastLoadReport()!.candidates.map((c) => c.outcome)).toEqual(['not tried', 'not tried']);
});

test('a prebuild that fits by name but does not load is reported with the dynamic linker message', () => {
  const root = path.join(tmp, 'pkg-broken');
  fs.mkdirSync(path.join(root, 'prebuilds', 'linux-x64'), { recursive: true });
  fs.writeFileSync(path.join(root, 'prebuilds', 'linux-x64', 'atman-native.torch-1.13.cpu.node'), 'not an ELF file');
  expect(() => loadNativeAddon({ root, env: { ATMAN_NO_PYTHON: '1', PATH: process.env.PATH } })).toThrow(
    /1\. prebuilds\/linux-x64\/atman-native\.torch-1\.13\.cpu\.node fits by its name but does not load against .*: .*(invalid ELF header|file too short)/,
  );
});
