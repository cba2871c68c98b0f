// The GRPO policy update (src/train/policy-update): a finite loss moves the weights and reports TRL's metrics; a
// non-finite loss (here a NaN advantage) skips the step and leaves the weights and optimizer untouched.
import { resolveConfig } from '../src/config';
import { LlamaModel } from '../src/llm/model';
import { AdamW } from '../src/nn/optim';
import { Tensor } from '../src/tensor/tensor';
import { microBatches, policyUpdate } from '../src/train/policy-update';

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

test('micro-batches: gradientAccumulationSteps of them, sizes differing by at most one', () => {
  expect(microBatches(10, 4)).toEqual([[0, 3], [3, 6], [6, 8], [8, 10]]);
  expect(microBatches(10, 6).map(([a, b]) => b - a)).toEqual([2, 2, 2, 2, 1, 1]);
  expect(microBatches(3, 8)).toEqual([[0, 1], [1, 2], [2, 3]]);
  expect(microBatches(5, 1)).toEqual([[0, 5]]);
});

test('unequal micro-batches weigh every row the same: grpo and dr_grpo give the loss and gradient of one batch', async () => {
  const three = [...rows, { promptIds: [1, 20, 21], tokens: [40, 41, 6], truncated: false }];
  // lr so small that the weights do not move in float32: each call sees the same model.
  const optim = { ...cfg.optim, lr: 1e-30 };
  const update = (lossType: 'grpo' | 'dr_grpo', gradientAccumulationSteps: number) => policyUpdate({
    model, reference: null, adam: new AdamW(params, { lr: 1e-30 }), params, rows: three, advantages: [1, -1, 3],
    grpo: { ...cfg.grpo, lossType, gradientAccumulationSteps }, optim, temperature: 1, maxCompletionLength: 8, padTokenId: 0, step: 0,
    gradientCheckpointing: false,
  });
  for (const lossType of ['grpo', 'dr_grpo'] as const) {
    const whole = await update(lossType, 1);
    const split = await update(lossType, 2); // micro-batches of 2 rows and 1 row
    expect(split.loss).toBeCloseTo(whole.loss, 6);
    expect(Math.abs(split.gradNorm - whole.gradNorm) / whole.gradNorm).toBeLessThan(1e-5);
  }
  // grpo with ratio 1: the loss is −mean(A) over rows, whatever the split (the old 1/chunks weighting gave −1.5).
  expect((await update('grpo', 2)).loss).toBeCloseTo(-1, 6);
});

test('a diverging step (lr 1e15, or 1e38 which overflows float32) is skipped before it reaches the weights or the optimizer', async () => {
  for (const lr of [1e15, 1e38]) {
    const adam = new AdamW(params, { lr: 1e-2 });
    const before = snapshot();
    const out = await policyUpdate({
      model, reference: null, adam, params, rows, advantages: [1, -1], grpo: cfg.grpo, optim: { ...cfg.optim, lr },
      temperature: 1, maxCompletionLength: 8, padTokenId: 0, step: 0, gradientCheckpointing: false,
    });
    expect(out).toMatchObject({ skipped: true, applied: 0 });
    expect(out.loss).toBeNaN();
    expect(out.skipReason).toMatch(new RegExp(`would change the weights by .* their norm.*learning rate ${lr.toExponential().replace('+', '\\+')} is the likely cause \\(optim\\.lr\\)`));
    expect(changed(before, snapshot())).toBe(false);
    const state = adam.stateDict();
    expect(state.step).toBe(0); // the optimizer never stepped
    expect(state.expAvg.every((t) => t === null)).toBe(true);
  }
});

test('a normal learning rate passes the divergence check (the cheap bound decides, no exact prediction needed)', async () => {
  const adam = new AdamW(params, { lr: 1e-5 });
  const out = await policyUpdate({
    model, reference: null, adam, params, rows, advantages: [1, -1], grpo: cfg.grpo, optim: { ...cfg.optim, lr: 1e-5 },
    temperature: 1, maxCompletionLength: 8, padTokenId: 0, step: 0, gradientCheckpointing: false,
  });
  expect(out).toMatchObject({ skipped: false, applied: 1, skipReason: null });
});
