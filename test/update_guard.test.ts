// predictUpdate (src/train/update-guard): the predicted relative weight change equals what AdamW's step then does,
// the cheap bound is an upper bound, and weightsFinite spots a non-finite weight.
import { AdamW } from '../src/nn/optim';
import { tensor } from '../src/tensor/creation';
import { predictUpdate, weightsFinite } from '../src/train/update-guard';

function setup(lr: number, weightDecay = 0.1) {
  const w = tensor([[0.5, -0.2, 0.1], [0.3, 0.05, -0.4]], { requiresGrad: true });
  const adam = new AdamW([w], { lr, weightDecay });
  const takeGrad = (scale: number) => w.mul(tensor([[1, -2, 3], [0.5, 0, -1]])).sum().mul(scale).backward();
  return { w, adam, takeGrad };
}

const values = (t: { toArray(): unknown }) => (t.toArray() as number[][]).flat();
const norm = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + x * x, 0));

test('the exact prediction matches the change the step makes, over several steps', () => {
  const { w, adam, takeGrad } = setup(30); // large enough that the bound does not decide
  for (let step = 0; step < 2; step++) {
    takeGrad(step + 1);
    const p = predictUpdate(adam, [w]);
    const before = values(w);
    adam.step();
    adam.zeroGrad();
    const after = values(w);
    expect(p.exact).toBe(true);
    expect(p.relativeChange).toBeCloseTo(norm(after.map((x, i) => x - before[i])) / norm(before), 4);
  }
});

test('the cheap bound is at least the real change', () => {
  const { w, adam, takeGrad } = setup(1e-3);
  for (let step = 0; step < 5; step++) {
    takeGrad(1 / (step + 1));
    const p = predictUpdate(adam, [w]);
    const before = values(w);
    adam.step();
    adam.zeroGrad();
    expect(p.exact).toBe(false);
    expect(p.relativeChange).toBeGreaterThanOrEqual(norm(values(w).map((x, i) => x - before[i])) / norm(before) - 1e-9);
  }
});

test('no gradient: no change; weightsFinite tells a NaN weight', () => {
  const { w, adam } = setup(1);
  expect(predictUpdate(adam, [w]).relativeChange).toBe(0);
  expect(weightsFinite([w])).toBe(true);
  expect(weightsFinite([tensor([1, NaN])])).toBe(false);
  expect(weightsFinite([tensor([1, Infinity])])).toBe(false);
});
