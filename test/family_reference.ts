// An independent reference forward of the decoder families (Llama, Qwen2, Qwen3, Mistral) for the CPU tests, written
// from the transformers modeling files with the package's tensor ops in float64: embedding, RMSNorm, the rotary
// embedding (angles computed here in JS), q/k/v biases (Qwen2), q/k head RMSNorm before rotary (Qwen3), grouped-query
// attention with a causal mask and the AtMan key bias, SwiGLU MLP, lm_head. It reads the checkpoint itself (single
// file or shards) and shares no code with native/llama.
import * as fs from 'fs';
import * as path from 'path';

import { Tensor, cat, embedding, linear, load, noGrad, tensor, tidy } from '../src';

export interface ReferenceModel {
  config: Record<string, any>;
  w: Record<string, Tensor>; // float64
}

/** Reads config.json and every tensor (model.safetensors or the shards of model.safetensors.index.json) as float64. */
export function readReference(dir: string): ReferenceModel {
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
  const files = fs.existsSync(path.join(dir, 'model.safetensors'))
    ? ['model.safetensors']
    : [...new Set(Object.values(JSON.parse(fs.readFileSync(path.join(dir, 'model.safetensors.index.json'), 'utf8')).weight_map as Record<string, string>))];
  const w: Record<string, Tensor> = {};
  for (const f of files)
    for (const [name, t] of Object.entries(load(path.join(dir, f)).tensors)) {
      w[name] = t.double();
      t.dispose();
    }
  return { config, w };
}

export function disposeReference(m: ReferenceModel): void {
  for (const t of Object.values(m.w)) t.dispose();
}

function rmsNorm(x: Tensor, weight: Tensor, eps: number): Tensor {
  return x.mul(x.pow(2).mean(-1, true).add(eps).rsqrt()).mul(weight);
}

function rotateHalf(x: Tensor): Tensor {
  const half = x.shape[x.shape.length - 1] / 2;
  return cat([x.narrow(-1, half, half).neg(), x.narrow(-1, 0, half)], -1);
}

export interface ReferenceOptions {
  /** [B][T] additive bias on each key's attention logit, for query rows >= biasQueryStart (AtMan). */
  keyBias?: number[][];
  biasQueryStart?: number;
}

/** logits [B, T, vocab] float64 of ids [B][T] (positions 0..T-1, no padding). */
export function referenceLogits(m: ReferenceModel, ids: number[][], o: ReferenceOptions = {}): Tensor {
  const c = m.config;
  const family: string = c.model_type;
  const H: number = c.hidden_size, Hq: number = c.num_attention_heads, Hkv: number = c.num_key_value_heads;
  const D: number = c.head_dim ?? (family === 'qwen3' ? 128 : H / Hq);
  const eps: number = c.rms_norm_eps;
  const theta: number = c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000;
  const B = ids.length, T = ids[0].length, G = Hq / Hkv;
  const W = (name: string): Tensor => {
    const t = m.w[name];
    if (t === undefined) throw new Error(`reference: no tensor ${name}`);
    return t;
  };
  const opt = (name: string): Tensor | undefined => m.w[name];
  return noGrad(() =>
    tidy(() => {
      // cos/sin [T, D]: angle(t, d) = t * theta^(-2 (d mod D/2) / D), duplicated over the two halves.
      const ang = Array.from({ length: T }, (_, t) => Array.from({ length: D }, (_, d) => t * Math.pow(theta, (-2 * (d % (D / 2))) / D)));
      const cos = tensor(ang.map((r) => r.map(Math.cos)), { dtype: 'float64' });
      const sin = tensor(ang.map((r) => r.map(Math.sin)), { dtype: 'float64' });
      // [B, 1, T, T]: causal -inf above the diagonal, the key bias on rows >= biasQueryStart.
      const mask = tensor(
        Array.from({ length: B }, (_, b) => [
          Array.from({ length: T }, (_, i) =>
            Array.from({ length: T }, (_, j) => (j > i ? -Infinity : o.keyBias && i >= (o.biasQueryStart ?? 0) ? o.keyBias[b][j] : 0)),
          ),
        ]),
        { dtype: 'float64' },
      );
      const kvIndex = tensor(Array.from({ length: Hq }, (_, h) => Math.floor(h / G)), { dtype: 'int64' });
      let x = embedding(tensor(ids, { dtype: 'int64' }), W('model.embed_tokens.weight'));
      for (let i = 0; i < c.num_hidden_layers; i++) {
        const p = `model.layers.${i}.`;
        const h = rmsNorm(x, W(p + 'input_layernorm.weight'), eps);
        let q = linear(h, W(p + 'self_attn.q_proj.weight'), opt(p + 'self_attn.q_proj.bias')).reshape([B, T, Hq, D]);
        let k = linear(h, W(p + 'self_attn.k_proj.weight'), opt(p + 'self_attn.k_proj.bias')).reshape([B, T, Hkv, D]);
        const v = linear(h, W(p + 'self_attn.v_proj.weight'), opt(p + 'self_attn.v_proj.bias')).reshape([B, T, Hkv, D]).transpose(1, 2);
        const qn = opt(p + 'self_attn.q_norm.weight'), kn = opt(p + 'self_attn.k_norm.weight');
        if (qn && kn) {
          q = rmsNorm(q, qn, eps);
          k = rmsNorm(k, kn, eps);
        }
        q = q.transpose(1, 2);
        k = k.transpose(1, 2);
        q = q.mul(cos).add(rotateHalf(q).mul(sin));
        k = k.mul(cos).add(rotateHalf(k).mul(sin));
        const kk = k.indexSelect(1, kvIndex), vv = v.indexSelect(1, kvIndex); // [B, Hq, T, D]
        const scores = q.matmul(kk.transpose(2, 3)).div(Math.sqrt(D)).add(mask);
        const a = scores.softmax(-1).matmul(vv).transpose(1, 2).reshape([B, T, Hq * D]);
        x = x.add(linear(a, W(p + 'self_attn.o_proj.weight')));
        const h2 = rmsNorm(x, W(p + 'post_attention_layernorm.weight'), eps);
        const act = linear(h2, W(p + 'mlp.gate_proj.weight')).silu().mul(linear(h2, W(p + 'mlp.up_proj.weight')));
        x = x.add(linear(act, W(p + 'mlp.down_proj.weight')));
      }
      x = rmsNorm(x, W('model.norm.weight'), eps);
      return linear(x, opt('lm_head.weight') ?? W('model.embed_tokens.weight'));
    }),
  );
}
