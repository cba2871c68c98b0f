// A task whose answer depends on known chain-of-thought tokens, and a tiny Llama trained on it in seconds (CPU):
// majority vote. Sequence: [BOS, p_0 .. p_{P-1} | c_0 .. c_{L-1} | SEP, a]: the prompt holds filler tokens and nw
// copies of a value w, the CoT holds filler tokens and nv copies of another value v, and the answer a is the value
// with more copies. The model learns to count by attention share. In the test cases the CoT wins 3 to 2, so the
// answer depends on the CoT's copies of v (muting them below about 2/3 hands the vote to w) and on no other CoT token.
// Why not simply "copy the value in the CoT": the model then learns so large a margin that muting the whole CoT
// together by a factor of 100 costs it nothing (softmax re-weighting is relative), and no mask can tell v from fillers.
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, optim, tensor, tidy } from '../src';
import type { SaliencyExample } from '../src';
import { mulberry32 } from '../src/data';
import { writeTinyLlama } from './llama_helpers';

export const BOS = 1, SEP = 3, FIRST_VALUE = 4, VALUES = 5, FIRST_FILLER = 4 + VALUES, VOCAB = 40;
export const PROMPT = 6, COT = 14;

export interface ValueCase extends SaliencyExample {
  /** Indices into the CoT of the tokens that matter (the value token). */
  matters: number[];
}

/** Deterministic PRNG: the project's (src/data). */
export const rng = mulberry32;

/** A case with nv copies of v in the CoT and nw copies of w in the prompt (training draws both at random). */
export function makeCase(rand: () => number, nv = 3, nw = 2): ValueCase {
  const pick = (from: number, count: number) => from + Math.floor(rand() * count);
  const filler = () => pick(FIRST_FILLER, VOCAB - FIRST_FILLER);
  const w = pick(FIRST_VALUE, VALUES);
  let v = pick(FIRST_VALUE, VALUES - 1);
  if (v >= w) v += 1;
  const place = (length: number, value: number, copies: number): { tokens: number[]; at: number[] } => {
    const tokens = Array.from({ length }, filler);
    const at = Array.from({ length }, (_, i) => i).sort(() => rand() - 0.5).slice(0, copies).sort((x, y) => x - y);
    for (const i of at) tokens[i] = value;
    return { tokens, at };
  };
  const prompt = place(PROMPT, w, nw);
  const cot = place(COT, v, nv);
  const ids = [BOS, ...prompt.tokens, ...cot.tokens, SEP, nv > nw ? v : w];
  const cotStart = 1 + PROMPT;
  return { ids, cotStart, cotEnd: cotStart + COT, answerStart: ids.length - 1, answerEnd: ids.length, matters: cot.at };
}

/** Training cases: counts 1 to 3 on each side, never tied, the majority in the prompt or the CoT alike. */
export function makeTrainingCase(rand: () => number): ValueCase {
  const nv = 1 + Math.floor(rand() * 3);
  let nw = 1 + Math.floor(rand() * 2);
  if (nw >= nv) nw += 1;
  return makeCase(rand, nv, nw);
}

/** Trains a 1-layer Llama on value cases; returns it loaded on the CPU with frozen weights. */
export async function trainValueModel(seed = 0, steps = 300): Promise<LlamaModel> {
  const dir = path.join(os.tmpdir(), `atman-value-${process.pid}-${seed}`);
  writeTinyLlama(dir, { hidden: 64, layers: 1, heads: 4, kvHeads: 2, intermediate: 128, vocab: VOCAB, seed });
  const model = await LlamaModel.load(dir);
  model.requiresGrad_(true);
  const params = model.parameters();
  const adam = new optim.AdamW(params, { lr: 1e-2, weightDecay: 0 });
  const rand = rng(seed + 1);
  const batch = 32;
  for (let step = 0; step < steps; step++) {
    const cases = Array.from({ length: batch }, () => makeTrainingCase(rand));
    adam.zeroGrad();
    tidy(() => {
      const ids = tensor(cases.flatMap((c) => c.ids), { dtype: 'int64' }).reshape([batch, cases[0].ids.length]);
      const lp = model.tokenLogprobs(ids, { targetStart: cases[0].answerStart });
      lp.sum().div(-batch).backward();
    });
    adam.step();
  }
  model.requiresGrad_(false);
  for (const p of params) p.dispose();
  return model;
}
