// Checkpoints of a run directory: runs/<name>/checkpoints/step-NNNNNN/ holds the model (HF format), the optimizer
// state, the trainer state (step, data position, seed: the RNG is reseeded from (seed, step) every step, so these
// restore it exactly) and a COMPLETE marker. It is written under a temporary name and renamed, then `latest` (a file
// naming the directory) is replaced atomically, so a crash never leaves a half-written checkpoint behind `latest`.
import * as fs from 'fs';
import * as path from 'path';

import { writeFileAtomic } from '../log/atomic';
import { LlamaModel } from '../llm/model';
import { copyTokenizerFiles } from '../llm/tokenizer-files';
import { AdamW, AdamWStateDict } from '../nn/optim';
import { load, save } from '../tensor/io';
import { Tensor } from '../tensor/tensor';

export interface TrainerState {
  /** Optimizer steps done. */
  step: number;
  /** Index of the next problem in the (shuffled) data order, and the epoch that order belongs to. */
  dataPosition: number;
  epoch: number;
  seed: number;
}

const MARKER = 'COMPLETE';

function stepDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** tokenizerDir: where the run's tokenizer files are; they are copied beside the model, so the checkpoint's model/
 * directory loads on its own (eval, saliency, another run). */
export function saveCheckpoint(
  runDir: string, model: LlamaModel, tokenizerDir: string, optimizer: AdamW, state: TrainerState, keep: number,
): string {
  const root = path.join(runDir, 'checkpoints');
  fs.mkdirSync(root, { recursive: true });
  const name = stepDirName(state.step);
  const final = path.join(root, name);
  const tmp = path.join(root, `.${name}.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp);
  model.save(path.join(tmp, 'model'));
  copyTokenizerFiles(tokenizerDir, path.join(tmp, 'model'));
  const opt = optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  opt.expAvg.forEach((t, i) => t && (tensors[`exp_avg.${i}`] = t));
  opt.expAvgSq.forEach((t, i) => t && (tensors[`exp_avg_sq.${i}`] = t));
  const hyper = { step: opt.step, lr: opt.lr, betas: opt.betas, eps: opt.eps, weightDecay: opt.weightDecay, params: opt.expAvg.length };
  save(path.join(tmp, 'optimizer.safetensors'), tensors, { adamw: JSON.stringify(hyper) });
  for (const t of [...opt.expAvg, ...opt.expAvgSq]) t?.dispose();
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  fs.writeFileSync(path.join(tmp, MARKER), '');
  fs.rmSync(final, { recursive: true, force: true });
  fs.renameSync(tmp, final);
  writeFileAtomic(path.join(runDir, 'latest'), path.join('checkpoints', name) + '\n');
  prune(root, keep);
  return final;
}

/** Keeps the newest `keep` complete checkpoints; removes older ones and leftovers of interrupted writes. */
function prune(root: string, keep: number): void {
  const entries = fs.readdirSync(root);
  for (const e of entries) if (e.startsWith('.step-')) fs.rmSync(path.join(root, e), { recursive: true, force: true });
  const done = entries.filter((e) => /^step-\d+$/.test(e) && fs.existsSync(path.join(root, e, MARKER))).sort();
  for (const e of done.slice(0, Math.max(0, done.length - keep))) fs.rmSync(path.join(root, e), { recursive: true, force: true });
}

export interface LoadedCheckpoint {
  dir: string;
  modelDir: string;
  state: TrainerState;
  /** Restores the optimizer state into an AdamW over the same parameters. */
  restoreOptimizer(optimizer: AdamW): void;
}

/** The checkpoint `latest` points to, or null when the run has none. */
export function latestCheckpoint(runDir: string): LoadedCheckpoint | null {
  const pointer = path.join(runDir, 'latest');
  if (!fs.existsSync(pointer)) return null;
  const dir = path.join(runDir, fs.readFileSync(pointer, 'utf8').trim());
  if (!fs.existsSync(path.join(dir, MARKER)))
    throw new Error(`checkpoint ${dir} (named by ${pointer}) is incomplete or missing; point 'latest' at a complete one or start a new run`);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as TrainerState;
  return {
    dir,
    modelDir: path.join(dir, 'model'),
    state,
    restoreOptimizer(optimizer: AdamW) {
      const { tensors, metadata } = load(path.join(dir, 'optimizer.safetensors'));
      const hyper = JSON.parse(metadata.adamw) as Omit<AdamWStateDict, 'expAvg' | 'expAvgSq'> & { params: number };
      if (hyper.params !== optimizer.params.length)
        throw new Error(`checkpoint ${dir} has optimizer state for ${hyper.params} parameters, the model has ${optimizer.params.length}`);
      const list = (key: string) => Array.from({ length: hyper.params }, (_, i) => tensors[`${key}.${i}`] ?? null);
      const expAvg = list('exp_avg'), expAvgSq = list('exp_avg_sq');
      optimizer.loadStateDict({ ...hyper, expAvg, expAvgSq });
      for (const t of Object.values(tensors)) t.dispose();
    },
  };
}
