// The optimizer of the mask logits θ. 'adam' is plain Adam: per-token second moments make every token whose gradient
// keeps its sign move at the same speed (≈ lr per step) whatever the gradient's size, so after K steps the tokens the
// answer needs a little and those it needs a lot sit together. 'rowAdam' keeps one second moment per mask row (per
// completion, and per layer with per-layer masks): steps are scale-free across completions, as with Adam, but within a
// completion they keep the ratio of the gradients, so the mask ranks tokens by how much the answer needs them sooner.
import { AdamW } from '../nn/optim';
import { zeros } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { keep, tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

export type MaskOptimizerName = 'adam' | 'rowAdam';

export interface MaskOptimizer {
  /** The current θ (a leaf that requires grad). Replaced by step() for rowAdam: read it again after each step. */
  readonly theta: Tensor;
  zeroGrad(): void;
  step(): void;
  dispose(): void;
}

const BETA1 = 0.9, BETA2 = 0.999, EPS = 1e-8, THETA_MAX = 12;

class Adam implements MaskOptimizer {
  private readonly adam: AdamW;
  constructor(readonly theta: Tensor, lr: number) {
    this.adam = new AdamW([theta], { lr, betas: [BETA1, BETA2], eps: EPS, weightDecay: 0 });
  }
  zeroGrad(): void {
    this.adam.zeroGrad();
  }
  step(): void {
    this.adam.step();
  }
  dispose(): void {
    this.theta.dispose();
  }
}

class RowAdam implements MaskOptimizer {
  private m: Tensor;
  private v: Tensor;
  private t = 0;
  constructor(
    public theta: Tensor,
    private readonly lr: number,
    /** 1 on the entries that are optimized (CoT keys), broadcastable to θ; their count per row. */
    private readonly mask: Tensor,
    private readonly count: Tensor,
  ) {
    this.m = zeros(theta.shape, { device: theta.device, dtype: theta.dtype });
    this.v = zeros([...theta.shape.slice(0, -1), 1], { device: theta.device, dtype: theta.dtype });
  }
  zeroGrad(): void {
    /* θ is a fresh leaf after every step: it has no gradient to clear. */
  }
  step(): void {
    const g0 = this.theta.grad;
    if (g0 === null) return;
    this.t += 1;
    const next = noGrad(() => tidy(() => {
      const g = g0.mul(this.mask);
      const m = this.m.mul(BETA1).add(g.mul(1 - BETA1));
      const v = this.v.mul(BETA2).add(g.mul(g).sum(-1, true).div(this.count).mul(1 - BETA2));
      const mHat = m.div(1 - BETA1 ** this.t), vHat = v.div(1 - BETA2 ** this.t);
      // Clamped so that s = sigmoid(θ) stays strictly inside (0, 1) in float32 and log s finite.
      const theta = this.theta.detach().sub(mHat.div(vHat.sqrt().add(EPS)).mul(this.lr)).clamp(-THETA_MAX, THETA_MAX).requiresGrad_(true);
      return [keep(m), keep(v), keep(theta)];
    }));
    g0.dispose();
    for (const t of [this.m, this.v, this.theta]) t.dispose();
    [this.m, this.v, this.theta] = next;
  }
  dispose(): void {
    for (const t of [this.m, this.v, this.theta]) t.dispose();
  }
}

/** mask: 1 on optimized entries of θ (broadcastable); count: their number per row, shaped like θ without its last dim + 1. */
export function maskOptimizer(name: MaskOptimizerName, theta: Tensor, lr: number, mask: Tensor, count: Tensor): MaskOptimizer {
  return name === 'adam' ? new Adam(theta, lr) : new RowAdam(theta, lr, mask, count);
}
