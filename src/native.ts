// Loads the native addon and gives it types. The only module that touches the raw addon.
import * as path from 'path';

import { LoadReport, loadNativeAddon } from './loader';

/** Opaque owner of one native tensor. */
export interface NativeTensor {
  readonly __nativeTensor: unique symbol;
}

export type NativeArg = NativeTensor | number | bigint | boolean | string | null | undefined | NativeArg[];
export type NativeResult = NativeTensor | number | bigint | boolean | string | null | undefined | NativeResult[];

export interface BuildInfo {
  torchVersion: string;
  torchSource: string;
  torchLibDir: string;
  variant: 'cpu' | 'cuda';
  cxx11Abi: boolean;
  threads: number;
}

export interface CudaDeviceInfo {
  index: number;
  name: string;
  totalBytes: number;
  capability: string;
}

export interface CudaMemoryInfo {
  allocatedBytes: number;
  reservedBytes: number;
  peakAllocatedBytes: number;
}

export interface NativeAdamWState {
  step: number;
  expAvg: (NativeTensor | null)[];
  expAvgSq: (NativeTensor | null)[];
}

export interface NativeAdamW {
  step(): void;
  zeroGrad(): void;
  setLr(lr: number): void;
  options(): { lr: number; betas: [number, number]; eps: number; weightDecay: number };
  state(): NativeAdamWState;
  loadState(state: NativeAdamWState): void;
}

export interface NativeSafetensors {
  tensors: Record<string, NativeTensor>;
  metadata: Record<string, string>;
}

/** Opaque owner of one native Llama model. */
export interface NativeLlama {
  readonly __nativeLlama: unique symbol;
}

/** A model's LoRA adapter (native/llama/lora.h). */
export interface NativeAdapterInfo {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: string[];
  enabled: boolean;
}

/** The config.json model_type values native/llama/family.h supports. */
export type ModelType = 'llama' | 'qwen2' | 'qwen3' | 'mistral';

export interface NativeLlamaConfig {
  /** config.json model_type: which family was loaded. */
  modelType: ModelType;
  /** Biases on the q, k and v projections (qwen2). */
  attentionBias: boolean;
  /** RMSNorm over each head of q and k before the rotary embedding (qwen3). */
  qkNorm: boolean;
  /**
   * The sliding window some layer attends within (mistral's sliding_window, or qwen's with use_sliding_window), or
   * null. Not implemented: sequences longer than it are refused (up to it the window changes nothing).
   */
  slidingWindow: number | null;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  vocabSize: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: {
    ropeType: string;
    factor: number;
    lowFreqFactor?: number;
    highFreqFactor?: number;
    originalMaxPositionEmbeddings?: number;
  } | null;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  /** The first of eosTokenIds. */
  eosTokenId: number | null;
  /** Every id of config.json's eos_token_id (one id or a list). */
  eosTokenIds: number[];
  padTokenId: number | null;
  dtype: string;
  device: string;
}

export interface NativeAddon {
  opNames(): string[];
  call(op: number, ...args: NativeArg[]): NativeResult;
  fromTypedArray(
    data: ArrayBufferView,
    shape: number[],
    dtype: string | undefined,
    device: string | undefined,
    requiresGrad: boolean,
    sourceIsBool: boolean,
  ): NativeTensor;
  dataSync(t: NativeTensor): ArrayBufferView;
  data(t: NativeTensor): Promise<ArrayBufferView>;
  dispose(t: NativeTensor): void;
  isDisposed(t: NativeTensor): boolean;
  memory(): { tensors: number; cpuBytes: number; cudaBytes: number; cpuCachedBytes: number };
  buildInfo(): BuildInfo;
  cudaIsAvailable(): boolean;
  cudaDeviceCount(): number;
  cudaDevices(): CudaDeviceInfo[];
  cudaSynchronize(device?: number): void;
  cudaMemory(device?: number): CudaMemoryInfo;
  cudaResetPeak(device?: number): void;
  cudaEmptyCache(): void;
  AdamW: new (params: NativeTensor[], opts: object) => NativeAdamW;
  clipGradNorm(params: NativeTensor[], maxNorm: number): number;
  saveSafetensors(file: string, names: string[], tensors: NativeTensor[], metadata: Record<string, string>): void;
  loadSafetensors(file: string, device: string | undefined, mapped: boolean): NativeSafetensors;
  llamaLoad(dir: string, device: string | undefined, dtype: string | undefined, mapped: boolean): Promise<NativeLlama>;
  llamaForward(m: NativeLlama, ids: NativeTensor, ...opts: NativeArg[]): NativeTensor;
  llamaTokenLogprobs(m: NativeLlama, ids: NativeTensor, ...args: NativeArg[]): NativeTensor;
  llamaTokenLogprobsEntropy(m: NativeLlama, ids: NativeTensor, ...args: NativeArg[]): [NativeTensor, NativeTensor];
  llamaPrefix(m: NativeLlama, ids: NativeTensor, keyStart: NativeTensor | null): [NativeTensor, NativeTensor];
  llamaNamedParameters(m: NativeLlama): [string[], NativeTensor[]];
  llamaRequiresGrad(m: NativeLlama, flag: boolean): void;
  llamaSetCheckpointing(m: NativeLlama, flag: boolean): void;
  llamaGenerate(m: NativeLlama, prompts: number[][], opts: object): Promise<{ tokens: number[][]; finishReasons: string[] }>;
  llamaConfig(m: NativeLlama): NativeLlamaConfig;
  llamaSave(m: NativeLlama, dir: string): void;
  llamaDispose(m: NativeLlama): void;
  llamaAddLora(m: NativeLlama, r: number, alpha: number, dropout: number, targetModules: string[], baseModel: string | null): void;
  llamaLoadAdapter(m: NativeLlama, dir: string): Promise<void>;
  llamaSaveAdapter(m: NativeLlama, dir: string): void;
  llamaMergeAdapter(m: NativeLlama): void;
  llamaSetAdapterEnabled(m: NativeLlama, flag: boolean): void;
  llamaAdapterInfo(m: NativeLlama): NativeAdapterInfo | null;
  llamaAdapterParameters(m: NativeLlama): [string[], NativeTensor[]];
  distInit(rank: number, worldSize: number, masterAddr: string, masterPort: number, backend: string, timeoutMs: number, hostStore: boolean, cudaDevice: number): Promise<void>;
  distAllReduce(tensors: NativeTensor[], op: string): Promise<void>;
  distAllReduceGradients(params: NativeTensor[], op: string, bucketBytes: number): Promise<void>;
  distBroadcast(t: NativeTensor, src: number): Promise<void>;
  distBarrier(): Promise<void>;
  distInfo(): { initialized: boolean; rank: number; worldSize: number; backend: string; backends: string[] };
  distDestroy(): void;
  GradientReducer: new (params: NativeTensor[], bucketBytes: number) => NativeGradientReducer;
}

export interface NativeGradientReducer {
  arm(op: string): void;
  finish(): Promise<void>;
  stats(): { overlapped: number; buckets: number };
  dispose(): void;
}

export const packageRoot = path.resolve(__dirname, '..');

// src/loader: build/Release, else the prebuild that fits the libtorch found (LIBTORCH, python3's torch, the system).
// Nothing loadable: one error listing each cause with its fix.
const loaded = loadNativeAddon<NativeAddon>({ root: packageRoot });

export const native: NativeAddon = loaded.addon;

/** What the loader found and chose (libtorch, candidates tried and why, the file loaded), for doctor. */
export function loadReport(): LoadReport {
  return loaded.report;
}

/** The .node file that was loaded, for doctor. */
export function addonPath(): string {
  return loaded.report.chosen!.file;
}

const opIndex: Map<string, number> = new Map(native.opNames().map((name, i) => [name, i]));

/** The index of a native op, resolved once at load time. */
export function op(name: string): number {
  const i = opIndex.get(name);
  if (i === undefined) throw new Error(`atman-native: the native addon has no op '${name}' (addon and JS out of sync: rebuild)`);
  return i;
}
