// Divergence checks around the AdamW step of the policy update: the step's effect on the weights is predicted before
// it is applied, so a diverging step (a learning rate far too large) is skipped and never reaches the weights, the
// optimizer state or a checkpoint. The JS API has no in-place copy into the model's parameters, so checking the
// prediction replaces a snapshot-and-restore.
import { AdamW } from '../nn/optim';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';

/** A step that would move the weights by more than their own norm is taken as divergence, not learning. */
export const MAX_RELATIVE_UPDATE = 1;

export interface UpdatePrediction {
  /** ‖Δw‖ / ‖w‖ over all parameters with a gradient (Infinity when the update is not finite). */
  relativeChange: number;
  /** Whether the exact update was computed (false: a bound on it was already small enough). */
  exact: boolean;
}

const sumOver = (params: Tensor[], f: (p: Tensor) => Tensor): number =>
  noGrad(() => tidy(() => params.reduce((a, p) => a + Number(f(p).item()), 0)));

/**
 * Bound on |m̂/√v̂| of every element after step t (Cauchy–Schwarz over the moment sums, γ = β1²/β2): the update of an
 * element is at most lr · (wd·|w| + this / (1 − β1^t)), whatever the gradients were.
 */
function adamRatioBound(t: number, beta1: number, beta2: number): number {
  const gamma = (beta1 * beta1) / beta2;
  const series = gamma === 1 ? t : (1 - gamma ** t) / (1 - gamma);
  return (Math.sqrt(1 - beta2 ** t) * (1 - beta1) * Math.sqrt(series)) / Math.sqrt(1 - beta2);
}

/**
 * How much the next adam.step() would change the weights, relative to their norm, with the gradients now held by
 * params (after clipping). A cheap bound decides first; only when it exceeds MAX_RELATIVE_UPDATE is the update
 * computed from a copy of the optimizer state (as native/optim/adamw.cpp: w ← w(1 − lr·wd) − lr/(1 − β1^t) · m/(√(v/(1 − β2^t)) + ε)).
 */
export function predictUpdate(adam: AdamW, params: Tensor[]): UpdatePrediction {
  const withGrad = params.filter((p) => noGrad(() => tidy(() => p.grad !== null)));
  if (withGrad.length === 0) return { relativeChange: 0, exact: false };
  const state = adam.stateDict();
  try {
    const t = state.step + 1;
    const [beta1, beta2] = state.betas;
    const { lr, weightDecay: wd, eps } = state;
    const bias1 = 1 - beta1 ** t;
    const bias2 = 1 - beta2 ** t;
    const weightNorm = Math.sqrt(sumOver(withGrad, (p) => p.norm().float().pow(2))); // no float32 copy of each weight
    const count = withGrad.reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0);
    const bound = lr * wd * weightNorm + (lr / bias1) * adamRatioBound(t, beta1, beta2) * Math.sqrt(count);
    if (weightNorm > 0 && bound <= MAX_RELATIVE_UPDATE * weightNorm) return { relativeChange: bound / weightNorm, exact: false };

    // Δ = lr·wd·w + (lr/bias1)·u with u = m'/denom; the norms are summed in doubles so no float32 scalar overflows.
    let ww = 0, wu = 0, uu = 0;
    params.forEach((p, i) => {
      noGrad(() => tidy(() => {
        const g = p.grad;
        if (g === null) return;
        const gf = g.float();
        const m = state.expAvg[i] ? state.expAvg[i]!.float().mul(beta1).add(gf.mul(1 - beta1)) : gf.mul(1 - beta1);
        const v = state.expAvgSq[i] ? state.expAvgSq[i]!.float().mul(beta2).add(gf.mul(gf).mul(1 - beta2)) : gf.mul(gf).mul(1 - beta2);
        const u = m.div(v.sqrt().div(Math.sqrt(bias2)).add(eps));
        const w = p.float();
        ww += Number(w.mul(w).sum().item());
        wu += Number(w.mul(u).sum().item());
        uu += Number(u.mul(u).sum().item());
      }));
    });
    const a = lr * wd, b = lr / bias1;
    const change = Math.sqrt(Math.max(0, a * a * ww + 2 * a * b * wu + b * b * uu));
    const relative = ww > 0 ? change / Math.sqrt(ww) : change === 0 ? 0 : Infinity;
    return { relativeChange: Number.isFinite(relative) ? relative : Infinity, exact: true };
  } finally {
    for (const m of [...state.expAvg, ...state.expAvgSq]) m?.dispose();
  }
}

/** Whether every parameter is finite: the largest |w| of each (a reduction that cannot overflow, unlike a sum). */
export function weightsFinite(params: Tensor[]): boolean {
  return Number.isFinite(sumOver(params, (p) => p.norm(undefined, false, Infinity).float()));
}
