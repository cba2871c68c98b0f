// Supervised fine-tuning on reference solutions: each example is the chat prompt followed by the problem's solution
// (chain of thought + '#### answer') and the end-of-turn token; the loss is the mean negative log-likelihood of the
// solution tokens. Used to make the bundled tiny model (scripts/make-tiny-model.sh).
import * as fs from 'fs';
import * as path from 'path';

import { Problem } from '../data';
import { createReporter } from '../log';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { copyTokenizerFiles } from '../llm/tokenizer-files';
import { AdamW, clipGradNorm } from '../nn/optim';
import { manualSeed } from '../tensor/creation';
import { tidy } from '../tensor/scope';
import { learningRateAt } from '../grpo/schedule';
import { ProblemStream } from './problems';
import { promptIdsOf } from './rollout';
import { packSequences, disposePacked } from './sequences';

export interface SftOptions {
  modelDir: string;
  tokenizerDir: string;
  problems: Problem[];
  outDir: string;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  seed: number;
  device: string;
  dtype: 'float32' | 'bfloat16' | 'float16' | 'float64';
  json?: boolean;
  logEvery?: number;
}

export async function sft(o: SftOptions): Promise<{ firstLoss: number; lastLoss: number }> {
  for (const [name, v] of [['steps', o.steps], ['batchSize', o.batchSize]] as const)
    if (!(Number.isSafeInteger(v) && v > 0)) throw new RangeError(`sft ${name} must be a positive integer, got ${String(v)}`);
  const withSolution = o.problems.filter((p) => typeof p.solution === 'string' && p.solution.length > 0);
  if (withSolution.length === 0) throw new Error('sft needs problems with reference solutions (GSM8K answers or the synthetic task)');
  const tok = Tokenizer.fromDir(o.tokenizerDir);
  manualSeed(o.seed);
  const model = await LlamaModel.load(o.modelDir, { device: o.device, dtype: o.dtype });
  model.requiresGrad_(true);
  const params = model.parameters();
  const adam = new AdamW(params, { lr: o.lr, weightDecay: 0 });
  const data = new ProblemStream(withSolution, o.seed, true);
  const reporter = createReporter({ json: o.json, total: o.steps });
  const losses: number[] = [];
  try {
    for (let step = 0; step < o.steps; step++) {
      const batch = data.next(o.batchSize);
      const prompts = batch.map((p) => promptIdsOf(tok, p));
      const targets = batch.map((p) => [...tok.encode(p.solution!, { addSpecialTokens: false }), tok.eosTokenId]);
      const packed = packSequences(prompts, targets, tok.padTokenId, undefined, model.config.device);
      adam.setLr(learningRateAt(step, { lr: o.lr, warmupSteps: o.warmupSteps, totalSteps: o.steps, schedule: 'cosine' }));
      adam.zeroGrad();
      const loss = tidy(() => {
        const lp = model.tokenLogprobs(packed.ids, { keyStart: packed.keyStart, targetStart: packed.targetStart });
        const nll = lp.mul(packed.mask).sum().div(packed.mask.sum()).neg();
        nll.backward();
        return nll.item() as number;
      });
      disposePacked(packed);
      clipGradNorm(params, 1.0);
      adam.step();
      losses.push(loss);
      if ((step + 1) % (o.logEvery ?? 10) === 0 || step + 1 === o.steps) reporter.update(step + 1, { loss, learning_rate: adam.lr });
      await new Promise<void>((r) => setImmediate(r));
    }
    adam.zeroGrad();
    model.requiresGrad_(false);
    saveModelWithTokenizer(model, o.tokenizerDir, o.outDir);
  } finally {
    reporter.stop();
    for (const p of params) p.dispose();
    model.dispose();
  }
  return { firstLoss: losses[0], lastLoss: losses[losses.length - 1] };
}

/** Saves the model into outDir through a temporary directory (then renamed), with the tokenizer files beside it. */
export function saveModelWithTokenizer(model: LlamaModel, tokenizerDir: string, outDir: string): void {
  const out = path.resolve(outDir);
  const tmp = `${out}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  model.save(tmp);
  copyTokenizerFiles(tokenizerDir, tmp);
  if (fs.existsSync(out)) {
    // Replace only what we write, so other files of outDir (README, ...) stay.
    for (const f of fs.readdirSync(tmp)) fs.renameSync(path.join(tmp, f), path.join(out, f));
    fs.rmSync(tmp, { recursive: true, force: true });
  } else {
    fs.renameSync(tmp, out);
  }
}
