// Evaluation: greedy completions graded strictly and flexibly (accuracy), and faithfulness on the correct ones:
// the answer's log-prob with the full CoT and with all CoT suppressed, whether the answer survives CoT suppression
// (greedy answer tokens unchanged), and the saliency statistics of the optimized masks.
import { Problem } from '../data';
import { completionExample, dependence, optimizeSaliency, saliencyStats } from '../atman';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { Completion, rollout } from './rollout';

export interface EvalOptions {
  modelDir: string;
  problems: Problem[];
  device: string;
  dtype: 'float32' | 'bfloat16' | 'float16' | 'float64';
  maxNewTokens: number;
  batchSize: number;
  saliency: { enabled: boolean; steps: number; lr: number; lambda: number; threshold: number; batchSize: number };
  onProgress?: (done: number, total: number) => void;
}

export interface EvalReport {
  n: number;
  accuracyStrict: number;
  accuracyFlexible: number;
  formatRate: number;
  faithfulness: {
    /** Correct completions whose CoT and answer were located (the ones measured below). */
    n: number;
    logpFull: number;
    logpCotSuppressed: number;
    dependence: number;
    /** Fraction whose greedy answer tokens stay the same with all CoT suppressed (lower: the answer needs the CoT). */
    accuracyCotSuppressed: number;
    meanS: number | null;
    fracCrucial: number | null;
    entropy: number | null;
  };
}

const mean = (x: number[]) => (x.length === 0 ? NaN : x.reduce((a, v) => a + v, 0) / x.length);

export async function evaluate(o: EvalOptions): Promise<EvalReport> {
  const tok = Tokenizer.fromDir(o.modelDir);
  const model = await LlamaModel.load(o.modelDir, { device: o.device, dtype: o.dtype });
  try {
    const completions: Completion[] = [];
    for (let i = 0; i < o.problems.length; i += o.batchSize) {
      const chunk = o.problems.slice(i, i + o.batchSize);
      completions.push(...(await rollout(model, tok, chunk, 1, { maxNewTokens: o.maxNewTokens, temperature: 0, topP: 1, topK: 0 }, 0)));
      o.onProgress?.(completions.length, o.problems.length);
    }
    const measured = completions.filter((c) => c.grade.correct && c.spans);
    const examples = measured.map((c) => completionExample(c.promptIds, c.tokens, c.spans!));
    const survives = examples.map((e) => answerSurvivesSuppression(model, e));
    let stats = { meanS: null as number | null, fracCrucial: null as number | null, entropy: null as number | null };
    let logpFull: number[] = [], logpAll: number[] = [], dep: number[] = [];
    if (examples.length > 0) {
      const s = o.saliency;
      const results = await optimizeSaliency(model, examples, {
        steps: s.enabled ? s.steps : 1, lr: s.lr, lambda: s.lambda, threshold: s.threshold, batchSize: s.batchSize, padTokenId: tok.padTokenId,
      });
      logpFull = results.map((r) => r.logpFull);
      logpAll = results.map((r) => r.logpSuppressAll);
      dep = results.map(dependence);
      if (s.enabled) {
        const st = results.map(saliencyStats);
        stats = { meanS: mean(st.map((x) => x.meanS)), fracCrucial: mean(st.map((x) => x.fracCrucial)), entropy: mean(st.map((x) => x.entropy)) };
      }
    }
    const frac = (f: (c: Completion) => boolean) => (completions.length === 0 ? NaN : completions.filter(f).length / completions.length);
    return {
      n: completions.length,
      accuracyStrict: frac((c) => c.grade.correct),
      accuracyFlexible: frac((c) => c.grade.correctFlexible),
      formatRate: frac((c) => c.grade.formatOk),
      faithfulness: {
        n: examples.length, logpFull: mean(logpFull), logpCotSuppressed: mean(logpAll), dependence: mean(dep),
        accuracyCotSuppressed: mean(survives.map((v) => (v ? 1 : 0))), ...stats,
      },
    };
  } finally {
    model.dispose();
  }
}

/** Whether the greedy choice at every answer position is unchanged when all CoT keys are suppressed. */
function answerSurvivesSuppression(model: LlamaModel, e: { ids: number[]; cotStart: number; cotEnd: number; answerStart: number; answerEnd: number }): boolean {
  return noGrad(() => tidy(() => {
    const T = e.ids.length;
    const bias = new Float32Array(T);
    for (let j = e.cotStart; j < e.cotEnd; j++) bias[j] = -1e4;
    const device = model.config.device;
    const ids = tensor(e.ids, { dtype: 'int64', device, shape: [1, T] });
    const logits = model.forward(ids, { keyBias: tensor(bias, { device, shape: [1, T] }), biasQueryStart: e.cotStart });
    const pred = logits.narrow(1, e.answerStart - 1, e.answerEnd - e.answerStart).argmax(-1).toArray() as number[][];
    return pred[0].every((t, k) => Number(t) === e.ids[e.answerStart + k]);
  }));
}
