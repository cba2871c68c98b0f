// Optimizers over native tensors. The update math lives in native/optim.
import { native, NativeAdamW } from '../native';
import { Tensor } from '../tensor/tensor';

export interface AdamWOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
}

export interface AdamWStateDict {
  step: number;
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** First and second moments per parameter (null before its first gradient). */
  expAvg: (Tensor | null)[];
  expAvgSq: (Tensor | null)[];
}

function checkParams(params: unknown, fn: string): Tensor[] {
  if (!Array.isArray(params) || params.length === 0 || !params.every((p) => p instanceof Tensor))
    throw new TypeError(`wrong argument type: ${fn} needs a non-empty array of parameter Tensors`);
  return params as Tensor[];
}

/** AdamW as torch.optim.AdamW (decoupled weight decay; defaults lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0.01). */
export class AdamW {
  private readonly impl: NativeAdamW;
  readonly params: Tensor[];

  constructor(params: Tensor[], opts: AdamWOptions = {}) {
    this.params = checkParams(params, 'AdamW');
    this.impl = new native.AdamW(this.params.map((p) => p.handle), opts);
  }

  step(): void {
    this.impl.step();
  }
  zeroGrad(): void {
    this.impl.zeroGrad();
  }
  setLr(lr: number): void {
    this.impl.setLr(lr);
  }
  get lr(): number {
    return this.impl.options().lr;
  }

  /** A snapshot (tensor copies) of the state, for checkpoints. */
  stateDict(): AdamWStateDict {
    const s = this.impl.state();
    const wrap = (h: unknown) => (h === null ? null : new Tensor(h as never));
    return { step: s.step, ...this.impl.options(), expAvg: s.expAvg.map(wrap), expAvgSq: s.expAvgSq.map(wrap) };
  }

  /** Restores moments, step count and hyperparameters (lr, betas, eps, weightDecay) from stateDict(). */
  loadStateDict(state: AdamWStateDict): void {
    if (state === null || typeof state !== 'object') throw new TypeError('wrong argument type: loadStateDict() needs a state object');
    const handles = (list: (Tensor | null)[] | undefined, key: string) => {
      if (!Array.isArray(list)) throw new TypeError(`wrong argument type: optimizer state.${key} must be an array`);
      return list.map((t) => (t === null ? null : t.handle));
    };
    // The native side also restores lr, betas, eps and weightDecay when the state has them (as torch does).
    const native = {
      step: state.step,
      expAvg: handles(state.expAvg, 'expAvg'),
      expAvgSq: handles(state.expAvgSq, 'expAvgSq'),
      lr: state.lr,
      betas: state.betas,
      eps: state.eps,
      weightDecay: state.weightDecay,
    };
    this.impl.loadState(native);
  }
}

/** Scales gradients so their joint L2 norm is at most maxNorm; returns the norm before scaling. */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  return native.clipGradNorm(checkParams(params, 'clipGradNorm()').map((p) => p.handle), maxNorm);
}
