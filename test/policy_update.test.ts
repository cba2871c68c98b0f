// The GRPO policy update (src/train/policy-update): a finite loss moves the weights and reports TRL's metrics; a
// non-finite loss (here a NaN advantage) skips the step and leaves the weights and optimizer untouched.
import { resolveConfig } from '../src/config';
import { LlamaModel } from '../src/llm/model';
import { AdamW } from '../src/nn/optim';
import { Tensor } from '../src/tensor/tensor';
import { policyUpdate } from '../src/train/policy-update';

const cfg = resolveConfig({ file: 'configs/tiny-synthetic.yaml', overrides: { device: 'cpu', optim: { lr: 1e-2 } } });
let model: LlamaModel;
let params: Tensor[];

beforeAll(async () => {
  model = await LlamaModel.load('models/tiny-arith', { device: 'cpu', dtype: 'float32' });
  model.requiresGrad_(true);
  params = model.parameters();
});
afterAll(() => {
  for (const p of params) p.dispose();
  model.dispose();
});

const rows = [
  { promptIds: [1, 20, 21, 22], tokens: [30, 31, 32, 6], truncated: false },
  { promptIds: [1, 20, 21, 22], tokens: [33, 34, 35, 36, 37], truncated: true },
];
const snapshot = () => params.map((p) => (p.toArray() as number[] | number[][]).flat());
const changed = (a: number[][], b: number[][]) => a.some((x, i) => x.some((v, j) => v !== b[i][j]));

function run(advantages: number[], adam: AdamW) {
  return policyUpdate({
    model, reference: null, adam, params, rows, advantages, grpo: cfg.grpo, optim: cfg.optim, temperature: 1,
    maxCompletionLength: 8, padTokenId: 0, step: 0, gradientCheckpointing: false,
  });
}

test('a finite loss updates the weights and reports loss, grad norm, entropy and clip ratios', async () => {
  const adam = new AdamW(params, { lr: 1e-2 });
  const before = snapshot();
  const out = await run([1, -1], adam);
  expect(out.skipped).toBe(false);
  expect(Number.isFinite(out.loss)).toBe(true);
  expect(out.gradNorm).toBeGreaterThan(0);
  // A char-level model over 104 tokens: entropy in (0, ln 104].
  expect(out.metrics.entropy).toBeGreaterThan(0);
  expect(out.metrics.entropy).toBeLessThanOrEqual(Math.log(104) + 1e-6);
  expect(out.metrics['clip_ratio/region_mean']).toBe(0); // μ = 1: the ratio is exactly 1
  expect(changed(before, snapshot())).toBe(true);
});

test('a non-finite loss skips the step: weights unchanged, skipped reported, loss NaN', async () => {
  const adam = new AdamW(params, { lr: 1e-2 });
  const before = snapshot();
  const out = await run([Number.NaN, 1], adam);
  expect(out.skipped).toBe(true);
  expect(out.loss).toBeNaN();
  expect(changed(before, snapshot())).toBe(false);
  expect(params.every((p) => p.grad === null || (p.grad.abs().sum().item() as number) === 0)).toBe(true);
});
