// Checkpoints of a run directory: runs/<name>/checkpoints/step-NNNNNN/ holds the model (HF format; with LoRA only
// the adapter, in PEFT's format, under adapter/: the base is the run's model.path), the optimizer
// state, the trainer state (step, data position, seed: the RNG is reseeded from (seed, step) every step, so these
// restore it exactly) and a COMPLETE marker. It is written under a temporary name and renamed, then `latest` (a file
// naming the directory) is replaced atomically, so a crash never leaves a half-written checkpoint behind `latest`.
// Old checkpoints are renamed away before they are deleted, so a kill during the deletion leaves only a hidden
// leftover, which the next save or run start removes (cleanCheckpoints).
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
const STEP_DIR = /^step-\d+$/;

function stepDirName(step: number): string {
  return `step-${String(step).padStart(6, '0')}`;
}

/** Removes a directory by first renaming it to a hidden name: a kill midway leaves no half-deleted step-N behind. */
function removeDir(root: string, name: string): void {
  const doomed = path.join(root, `.${name}.del-${process.pid}`);
  fs.rmSync(doomed, { recursive: true, force: true });
  fs.renameSync(path.join(root, name), doomed);
  fs.rmSync(doomed, { recursive: true, force: true });
}

/** The complete checkpoints of a run, oldest first (names like step-000004). */
export function completeCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).filter((e) => STEP_DIR.test(e) && fs.existsSync(path.join(root, e, MARKER))).sort();
}

/**
 * Removes what interrupted saves and deletions left in runs/<name>/checkpoints: hidden temporary directories and
 * step-N directories without their COMPLETE marker. Returns the names removed.
 */
export function cleanCheckpoints(runDir: string): string[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  const removed: string[] = [];
  for (const e of fs.readdirSync(root)) {
    const leftover = e.startsWith('.step-') || (STEP_DIR.test(e) && !fs.existsSync(path.join(root, e, MARKER)));
    if (!leftover) continue;
    fs.rmSync(path.join(root, e), { recursive: true, force: true });
    removed.push(e);
  }
  return removed;
}

/** tokenizerDir: where the run's tokenizer files are; they are copied beside the model, so the checkpoint's model/
 * directory loads on its own (eval, saliency, another run). A model with a LoRA adapter saves the adapter alone
 * (adapter/, PEFT format): the optimizer state is then the adapter's too. */
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
  if (model.hasAdapter) {
    model.saveAdapter(path.join(tmp, 'adapter'));
  } else {
    model.save(path.join(tmp, 'model'));
    copyTokenizerFiles(tokenizerDir, path.join(tmp, 'model'));
  }
  const opt = optimizer.stateDict();
  const tensors: Record<string, Tensor> = {};
  opt.expAvg.forEach((t, i) => t && (tensors[`exp_avg.${i}`] = t));
  opt.expAvgSq.forEach((t, i) => t && (tensors[`exp_avg_sq.${i}`] = t));
  const hyper = { step: opt.step, lr: opt.lr, betas: opt.betas, eps: opt.eps, weightDecay: opt.weightDecay, params: opt.expAvg.length };
  save(path.join(tmp, 'optimizer.safetensors'), tensors, { adamw: JSON.stringify(hyper) });
  for (const t of [...opt.expAvg, ...opt.expAvgSq]) t?.dispose();
  fs.writeFileSync(path.join(tmp, 'state.json'), JSON.stringify(state, null, 2) + '\n');
  fs.writeFileSync(path.join(tmp, MARKER), '');
  if (fs.existsSync(final)) removeDir(root, name);
  fs.renameSync(tmp, final);
  writeFileAtomic(path.join(runDir, 'latest'), path.join('checkpoints', name) + '\n');
  prune(root, keep);
  return final;
}

/** Keeps the newest `keep` complete checkpoints; removes older ones and leftovers of interrupted writes. */
function prune(root: string, keep: number): void {
  const runDir = path.dirname(root);
  cleanCheckpoints(runDir);
  const done = completeCheckpoints(runDir);
  for (const e of done.slice(0, Math.max(0, done.length - keep))) removeDir(root, e);
}

export interface LoadedCheckpoint {
  dir: string;
  /** Set when `latest` was missing or unusable and the newest complete checkpoint was taken instead: why. */
  note: string | null;
  /** The full model (HF format), or null when the run trains a LoRA adapter (then adapterDir). */
  modelDir: string | null;
  /** The LoRA adapter (PEFT format) of a LoRA run, else null. */
  adapterDir: string | null;
  state: TrainerState;
  /** Restores the optimizer state into an AdamW over the same parameters. */
  restoreOptimizer(optimizer: AdamW): void;
}

/**
 * What `latest` names, if it is a complete checkpoint of this run: checkpoints/step-N and nothing else (an absolute
 * path or '..' would leave the run folder). Otherwise the reason it cannot be used.
 */
function fromPointer(runDir: string, pointer: string): { name: string } | { problem: string } {
  if (!fs.existsSync(pointer)) return { problem: `${pointer} is missing` };
  const text = fs.readFileSync(pointer, 'utf8').trim();
  const parts = text.split(/[\\/]/);
  if (parts.length !== 2 || parts[0] !== 'checkpoints' || !STEP_DIR.test(parts[1]))
    return { problem: `${pointer} says ${JSON.stringify(text.slice(0, 200))}, not checkpoints/step-N inside the run folder` };
  if (!fs.existsSync(path.join(runDir, 'checkpoints', parts[1], MARKER)))
    return { problem: `${pointer} names ${text}, which is missing or incomplete` };
  return { name: parts[1] };
}

/**
 * The checkpoint `latest` points to; when `latest` is missing, outside the run folder or names a missing or
 * incomplete checkpoint, the newest complete one (with a note saying so); null when the run has none.
 */
export function latestCheckpoint(runDir: string): LoadedCheckpoint | null {
  const pointer = path.join(runDir, 'latest');
  const named = fromPointer(runDir, pointer);
  let name: string;
  let note: string | null = null;
  if ('name' in named) name = named.name;
  else {
    const done = completeCheckpoints(runDir);
    if (done.length === 0) return null;
    name = done[done.length - 1];
    note = `${named.problem}; using the newest complete checkpoint, checkpoints/${name}`;
  }
  const dir = path.join(runDir, 'checkpoints', name);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as TrainerState;
  return {
    dir,
    note,
    modelDir: fs.existsSync(path.join(dir, 'model')) ? path.join(dir, 'model') : null,
    adapterDir: fs.existsSync(path.join(dir, 'adapter')) ? path.join(dir, 'adapter') : null,
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
