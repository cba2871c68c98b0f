// Qwen2, Qwen3 and Mistral vs Hugging Face transformers: logits, log-probs and greedy continuations of small random
// models made by scripts/make_family_fixtures.py (fixtures in test/fixtures/<family>/<name>/: config.json,
// model.safetensors, expected.json), as test/llama_parity.test.ts checks Llama. On the CPU in float32, and on CUDA too
// where there is one (the fused kernels in float32).
//
// The fixtures are committed (made on the GPU host by scripts/gpu-check.sh with transformers 5.17); a missing fixture
// fails here (it is never skipped).
import * as path from 'path';

import * as at from '../src';
import { LlamaModel, Tensor, loadModel, noGrad, tensor } from '../src';
import { ParityExpected, greedyByForward, readParityFixture } from './llama_helpers';

const ROOT = path.join(__dirname, 'fixtures');
const MODELS: [string, string][] = [
  ['qwen2', 'qwen2_bias_tied'],
  ['qwen2', 'qwen2_untied_bf16_disk'],
  ['qwen3', 'qwen3_headdim32'],
  ['qwen3', 'qwen3_tied_mqa'],
  ['mistral', 'mistral_nowindow'],
  ['mistral', 'mistral_window32'],
];
const DEVICES = at.cuda.isAvailable() ? ['cpu', 'cuda'] : ['cpu'];
const LOGIT_TOL = 1e-4;
const LOGPROB_TOL = 1e-4;

function fixture(family: string, name: string): { dir: string; expected: ParityExpected } {
  return readParityFixture(path.join(ROOT, family, name),
    "python3 scripts/make_family_fixtures.py OUTDIR, then copy OUTDIR/qwen2, OUTDIR/qwen3 and OUTDIR/mistral to test/fixtures/ (see the script's docstring).");
}

function maxAbsDiff(actual: Tensor, expected: number[][] | number[][][]): number {
  return noGrad(() => at.tidy(() => actual.cpu().double().sub(tensor(expected as number[][]).double()).abs().max().item() as number));
}

describe.each(MODELS.flatMap(([f, n]) => DEVICES.map((d) => [f, n, d] as const)))(
  'agrees with HF transformers: %s %s on %s',
  (family, name, device) => {
    let model: LlamaModel | undefined;
    afterAll(() => model?.dispose());
    const get = async (): Promise<[LlamaModel, ParityExpected]> => {
      const { dir, expected } = fixture(family, name);
      model ??= await loadModel(dir, { device, dtype: 'float32' });
      return [model, expected];
    };
    const ids = (e: ParityExpected): Tensor => tensor(e.input_ids, { dtype: 'int64' }).to(device);

    test('loads as its family', async () => {
      const [m] = await get();
      expect(m.config.modelType).toBe(family);
    });

    test(`fp32 logits within ${LOGIT_TOL}`, async () => {
      const [m, e] = await get();
      const logits = m.forward(ids(e));
      expect(logits.shape).toEqual([e.logits.length, e.logits[0].length, e.logits[0][0].length]);
      expect(maxAbsDiff(logits, e.logits)).toBeLessThanOrEqual(LOGIT_TOL);
    });

    test(`token log-probs within ${LOGPROB_TOL}`, async () => {
      const [m, e] = await get();
      expect(maxAbsDiff(m.tokenLogprobs(ids(e), { chunkSize: 3 }), e.logprobs)).toBeLessThanOrEqual(LOGPROB_TOL);
    });

    test('greedy continuations identical (full forwards and generate with the KV cache)', async () => {
      const [m, e] = await get();
      const bad: string[] = [];
      for (const [i, g] of e.greedy.entries()) {
        const byForward = greedyByForward(m, g.prompt, g.tokens.length, device);
        const byGenerate = (await m.generate([g.prompt], { maxNewTokens: g.tokens.length, temperature: 0 })).tokens[0];
        for (const [how, ours] of [['forward', byForward], ['generate', byGenerate]] as const) {
          const at_ = ours.findIndex((t, j) => t !== g.tokens[j]);
          if (at_ >= 0)
            bad.push(`prompt ${i} (${how}): first difference at step ${at_} (ours ${ours[at_]}, HF ${g.tokens[at_]}, HF top-2 margin ${g.margins[at_]})`);
        }
      }
      expect(bad).toEqual([]);
    });
  },
);
