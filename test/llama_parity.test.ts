// LlamaModel vs Hugging Face transformers: logits, log-probs and greedy continuations of small random models made
// by scripts/make_llama_fixture.py (fixtures in test/fixtures/llama/<name>/: config.json, model.safetensors,
// expected.json). Checked on CPU in float32.
import * as path from 'path';

import { LlamaModel, Tensor, noGrad, tensor } from '../src';
import { ParityExpected, greedyByForward, readParityFixture } from './llama_helpers';

const ROOT = path.join(__dirname, 'fixtures/llama');
// gqa2_bf16_disk: bf16 weights on disk, loaded as float32 (its reference was computed from the reloaded model).
const MODELS = ['gqa4_tied', 'mha_untied', 'llama3_rope', 'gqa2_bf16_disk'];
const LOGIT_TOL = 1e-4;
const LOGPROB_TOL = 1e-4;

function fixture(name: string): { dir: string; expected: ParityExpected } {
  return readParityFixture(path.join(ROOT, name),
    "python3 scripts/make_llama_fixture.py OUTDIR, then copy OUTDIR/llama/* to test/fixtures/llama/ (see the script's docstring).");
}

function maxAbsDiff(actual: Tensor, expected: number[] | number[][] | number[][][]): number {
  return noGrad(() => actual.sub(tensor(expected as number[][]).to(actual.dtype)).abs().max().item() as number);
}

const greedy = (model: LlamaModel, prompt: number[], n: number): number[] => greedyByForward(model, prompt, n);

describe.each(MODELS)('agrees with HF transformers: %s (test/fixtures/llama)', (name) => {
  let model: LlamaModel | undefined;
  afterAll(() => model?.dispose());
  const get = async (): Promise<[LlamaModel, ParityExpected]> => {
    const { dir, expected } = fixture(name);
    model ??= await LlamaModel.load(dir, { dtype: 'float32' });
    return [model, expected];
  };

  test(`fp32 logits within ${LOGIT_TOL}`, async () => {
    const [m, e] = await get();
    const logits = m.forward(tensor(e.input_ids, { dtype: 'int64' }));
    expect(logits.shape).toEqual([e.logits.length, e.logits[0].length, e.logits[0][0].length]);
    expect(maxAbsDiff(logits, e.logits)).toBeLessThanOrEqual(LOGIT_TOL);
  });

  test(`token log-probs within ${LOGPROB_TOL}`, async () => {
    const [m, e] = await get();
    const lp = m.tokenLogprobs(tensor(e.input_ids, { dtype: 'int64' }), { chunkSize: 3 });
    expect(maxAbsDiff(lp, e.logprobs)).toBeLessThanOrEqual(LOGPROB_TOL);
  });

  test('greedy continuations identical (full forwards and generate with the KV cache)', async () => {
    const [m, e] = await get();
    const bad: string[] = [];
    for (const [i, g] of e.greedy.entries()) {
      const byForward = greedy(m, g.prompt, g.tokens.length);
      const byGenerate = (await m.generate([g.prompt], { maxNewTokens: g.tokens.length, temperature: 0 })).tokens[0];
      for (const [how, ours] of [['forward', byForward], ['generate', byGenerate]] as const) {
        const at = ours.findIndex((t, j) => t !== g.tokens[j]);
        if (at >= 0)
          bad.push(`prompt ${i} (${how}): first difference at step ${at} (ours ${ours[at]}, HF ${g.tokens[at]}, HF top-2 margin ${g.margins[at]})`);
      }
    }
    expect(bad).toEqual([]);
  });
});
