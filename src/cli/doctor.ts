// `atman-native doctor`: what libtorch and GPUs were found and which native build is loaded.
import * as os from 'os';
import { addonPath, native } from '../native';

export interface DoctorReport {
  addon: string;
  variant: string;
  torchVersion: string;
  torchFoundBy: string;
  torchLibDir: string;
  cxx11Abi: boolean;
  cudaAvailable: boolean;
  devices: { index: number; name: string; memoryGiB: number; capability: string }[];
  node: string;
  platform: string;
  warnings: string[];
}

export function doctorReport(): DoctorReport {
  const b = native.buildInfo();
  const cudaAvailable = native.cudaIsAvailable();
  const devices = native.cudaDevices().map((d) => ({ index: d.index, name: d.name, memoryGiB: +(d.totalBytes / 2 ** 30).toFixed(1), capability: d.capability }));
  const warnings: string[] = [];
  if (b.variant === 'cpu' && hasNvidiaGpu())
    warnings.push('an NVIDIA GPU is present but the CPU build of the addon is loaded: training will run on the CPU. ' +
      "Install a CUDA torch (pip install torch) and rebuild (ATMAN_FORCE_BUILD=1 npm rebuild atman-native).");
  if (b.variant === 'cuda' && !cudaAvailable)
    warnings.push('the CUDA build is loaded but no GPU is visible (check nvidia-smi and CUDA_VISIBLE_DEVICES).');
  return {
    addon: addonPath(),
    variant: b.variant,
    torchVersion: b.torchVersion,
    torchFoundBy: b.torchSource,
    torchLibDir: b.torchLibDir,
    cxx11Abi: b.cxx11Abi,
    cudaAvailable,
    devices,
    node: process.version,
    platform: `${os.platform()}-${os.arch()}`,
    warnings,
  };
}

function hasNvidiaGpu(): boolean {
  try {
    return require('fs').existsSync('/dev/nvidia0') || require('fs').existsSync('/proc/driver/nvidia/version');
  } catch {
    return false;
  }
}

export function printDoctor(r: DoctorReport): void {
  const lines = [
    'atman-native doctor',
    `  addon loaded     ${r.addon}`,
    `  build variant    ${r.variant}`,
    `  libtorch         ${r.torchVersion} (found by: ${r.torchFoundBy})`,
    `  libtorch libs    ${r.torchLibDir}`,
    `  C++11 ABI        ${r.cxx11Abi}`,
    `  CUDA available   ${r.cudaAvailable}`,
    ...r.devices.map((d) => `  cuda:${d.index}           ${d.name}, ${d.memoryGiB} GiB, sm_${d.capability.replace('.', '')}`),
    `  node             ${r.node} on ${r.platform}`,
  ];
  console.log(lines.join('\n'));
  for (const w of r.warnings) console.warn(`WARNING: ${w}`);
}
