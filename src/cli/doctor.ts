// `atman-native doctor`: what libtorch and GPUs were found and which native build is loaded.
import * as os from 'os';
import * as path from 'path';

import type { LoadReport } from '../loader';

export interface DoctorReport {
  addon: string;
  variant: string;
  torchVersion: string;
  torchFoundBy: string;
  torchLibDir: string;
  cxx11Abi: boolean;
  cudaAvailable: boolean;
  devices: { index: number; name: string; memoryGiB: number; capability: string }[];
  /** c10d backends of this build ('gloo' for CPU tensors, 'nccl' for CUDA), for data-parallel training. */
  distributedBackends: string[];
  node: string;
  platform: string;
  warnings: string[];
  /** The loader's decision: libtorch found, candidates tried and why, the file chosen. */
  load: LoadReport;
}

/** Throws the loader's error (every cause with its fix) when no addon loads; printLoadFailure shows it. */
export function doctorReport(): DoctorReport {
  // Required here, not imported: loading the addon is what may fail, and doctor must still explain that.
  const { native, loadReport } = require('../native') as typeof import('../native');
  const load = loadReport();
  const b = native.buildInfo();
  const cudaAvailable = native.cudaIsAvailable();
  const devices = native.cudaDevices().map((d) => ({ index: d.index, name: d.name, memoryGiB: +(d.totalBytes / 2 ** 30).toFixed(1), capability: d.capability }));
  const warnings: string[] = [];
  if (b.variant === 'cpu' && hasNvidiaGpu())
    warnings.push('an NVIDIA GPU is present but the CPU build of the addon is loaded: training will run on the CPU. ' +
      "Install a CUDA torch (pip install torch) and rebuild (ATMAN_FORCE_BUILD=1 npm rebuild atman-native).");
  if (b.variant === 'cuda' && !cudaAvailable)
    warnings.push('the CUDA build is loaded but no GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES).');
  warnings.push(...load.warnings);
  return {
    addon: load.chosen!.file,
    variant: b.variant,
    torchVersion: b.torchVersion,
    torchFoundBy: b.torchSource,
    torchLibDir: b.torchLibDir,
    cxx11Abi: b.cxx11Abi,
    cudaAvailable,
    devices,
    distributedBackends: typeof native.distInfo === 'function' ? native.distInfo().backends : [],
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    warnings,
    load,
  };
}

function hasNvidiaGpu(): boolean {
  try {
    return require('fs').existsSync('/dev/nvidia0') || require('fs').existsSync('/proc/driver/nvidia/version');
  } catch {
    return false;
  }
}

/** The loader's search: where libtorch was looked for, each candidate binary and what became of it. */
function describeSearch(load: LoadReport): string[] {
  const rel = (f: string) => path.relative(load.packageRoot, f) || f;
  return [
    ...load.libtorchSearch.map((s, i) => `  ${i ? '                 ' : 'libtorch search  '}${s}`),
    ...load.candidates.map((c, i) => `  ${i ? '                 ' : 'binaries         '}${c.outcome.padEnd(9)} ${rel(c.file)}: ${c.reason}`),
    ...(load.preloaded.length ? [`  preloaded        ${load.preloaded.join(', ')}`] : []),
  ];
}

/** When no addon loads: the loader's error (each cause with its fix) and its search. */
export function printLoadFailure(error: unknown, load: LoadReport | null): void {
  console.log(['atman-native doctor', `  platform         ${process.platform}-${process.arch}, node ${process.version}`, ...(load ? describeSearch(load) : [])].join('\n'));
  console.error(error instanceof Error ? error.message : String(error));
}

export function printDoctor(r: DoctorReport): void {
  const lines = [
    'atman-native doctor',
    `  addon loaded     ${r.addon} (${r.load.chosen!.kind})`,
    `  chosen because   ${r.load.chosen!.why}`,
    ...describeSearch(r.load),
    `  build variant    ${r.variant}`,
    `  built against    libtorch ${r.torchVersion} (found at build time by: ${r.torchFoundBy})`,
    `  its libtorch     ${r.torchLibDir} (at build time)`,
    `  C++11 ABI        ${r.cxx11Abi}`,
    `  CUDA available   ${r.cudaAvailable}`,
    ...r.devices.map((d) => `  cuda:${d.index}           ${d.name}, ${d.memoryGiB} GiB, sm_${d.capability.replace('.', '')}`),
    `  data parallel    ${r.distributedBackends.length > 0 ? r.distributedBackends.join(', ') : 'none in this build (README: Several GPUs or hosts)'}`,
    `  node             ${r.node} on ${r.platform}`,
  ];
  console.log(lines.join('\n'));
  for (const w of r.warnings) console.warn(`WARNING: ${w}`);
}
