// `atman-native demo`: a tiny end-to-end autograd run (until `train` exists, the quick start's main job).
// Fits a two-layer MLP to y = x·tanh(3x) with AdamW and prints the loss falling.
import { AdamW, clipGradNorm } from '../nn/optim';
import { linear } from '../nn/functional';
import { manualSeed, randn, rand, zeros } from '../tensor/creation';
import { tidy } from '../tensor/scope';

export interface DemoOptions {
  steps: number;
  hidden: number;
  lr: number;
  device: string;
  seed: number;
  log?: (line: string) => void;
}

export function runDemo(opts: DemoOptions): { first: number; last: number } {
  const log = opts.log ?? console.log;
  manualSeed(opts.seed);
  const dev = { device: opts.device };
  const w1 = randn([opts.hidden, 1], dev).mul(1.0).requiresGrad_();
  const b1 = zeros([opts.hidden], { ...dev, requiresGrad: true });
  const w2 = randn([1, opts.hidden], dev).mul(1 / Math.sqrt(opts.hidden)).detach().requiresGrad_();
  const b2 = zeros([1], { ...dev, requiresGrad: true });
  const params = [w1, b1, w2, b2];
  const optimizer = new AdamW(params, { lr: opts.lr, weightDecay: 0 });
  let first = NaN;
  let last = NaN;
  for (let step = 1; step <= opts.steps; step++) {
    last = tidy(() => {
      const x = rand([256, 1], dev).mul(2).sub(1);
      const target = x.mul(x.mul(3).tanh());
      const hidden = linear(x, w1, b1).tanh();
      const pred = linear(hidden, w2, b2);
      const loss = pred.sub(target).pow(2).mean();
      optimizer.zeroGrad();
      loss.backward();
      clipGradNorm(params, 1.0);
      optimizer.step();
      return loss.item() as number;
    });
    if (step === 1) first = last;
    if (step === 1 || step % Math.max(1, Math.floor(opts.steps / 10)) === 0 || step === opts.steps)
      log(`step ${String(step).padStart(4)}  loss ${last.toFixed(5)}`);
  }
  for (const p of params) p.dispose();
  return { first, last };
}
