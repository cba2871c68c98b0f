// Writes tiny random Llama models in the Hugging Face format (config.json + model.safetensors) for the CPU tests.
import * as fs from 'fs';
import * as path from 'path';

import { LlamaModel, Tensor, manualSeed, noGrad, randn, save, tensor, tidy } from '../src';

export interface TinyLlamaOptions {
  hidden?: number;
  layers?: number;
  heads?: number;
  kvHeads?: number;
  intermediate?: number;
  vocab?: number;
  tied?: boolean;
  /** llama3 rope scaling (factor 8, low 1, high 4, original 32) instead of the default rope. */
  llama3?: boolean;
  /** Write the rope settings as transformers 5.x does (rope_parameters) instead of 4.x (rope_theta, rope_scaling). */
  v5?: boolean;
  seed?: number;
  /** Split the weights into two shards with model.safetensors.index.json. */
  sharded?: boolean;
  /** Changes applied to config.json after it is built (undefined values delete the key). */
  config?: Record<string, unknown>;
  /** Edits the tensors before they are written. */
  editTensors?: (t: Record<string, Tensor>) => void;
}

export function tinyLlamaConfig(o: TinyLlamaOptions = {}): Record<string, unknown> {
  const hidden = o.hidden ?? 64;
  const heads = o.heads ?? 4;
  const rope = o.llama3
    ? { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 32 }
    : null;
  const c: Record<string, unknown> = {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: hidden,
    intermediate_size: o.intermediate ?? 128,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: heads,
    num_key_value_heads: o.kvHeads ?? 2,
    head_dim: hidden / heads,
    hidden_act: 'silu',
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: o.tied ?? false,
    vocab_size: o.vocab ?? 300,
    attention_bias: false,
    mlp_bias: false,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (o.v5) {
    c.rope_parameters = { rope_theta: 10000.0, ...(rope ?? { rope_type: 'default' }) };
  } else {
    c.rope_theta = 10000.0;
    c.rope_scaling = rope;
  }
  for (const [k, v] of Object.entries(o.config ?? {})) {
    if (v === undefined) delete c[k];
    else c[k] = v;
  }
  return c;
}

/** Random weights with HF names for the given config (std 0.1; norm weights around 1). */
export function tinyLlamaTensors(o: TinyLlamaOptions = {}): Record<string, Tensor> {
  const c = tinyLlamaConfig({ ...o, config: undefined }) as { [k: string]: number };
  manualSeed(o.seed ?? 0);
  const H = c.hidden_size, I = c.intermediate_size, D = c.head_dim, V = c.vocab_size;
  const w = (shape: number[]) => randn(shape).mul(0.1);
  const norm = () => randn([H]).mul(0.1).add(1);
  const t: Record<string, Tensor> = { 'model.embed_tokens.weight': randn([V, H]).mul(0.5) };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    t[p + 'input_layernorm.weight'] = norm();
    t[p + 'self_attn.q_proj.weight'] = w([c.num_attention_heads * D, H]);
    t[p + 'self_attn.k_proj.weight'] = w([c.num_key_value_heads * D, H]);
    t[p + 'self_attn.v_proj.weight'] = w([c.num_key_value_heads * D, H]);
    t[p + 'self_attn.o_proj.weight'] = w([H, c.num_attention_heads * D]);
    t[p + 'post_attention_layernorm.weight'] = norm();
    t[p + 'mlp.gate_proj.weight'] = w([I, H]);
    t[p + 'mlp.up_proj.weight'] = w([I, H]);
    t[p + 'mlp.down_proj.weight'] = w([H, I]);
  }
  t['model.norm.weight'] = norm();
  if (!(o.tied ?? false)) t['lm_head.weight'] = w([V, H]);
  return t;
}

/** Writes a tiny random Llama into dir (created) and returns dir. */
export function writeTinyLlama(dir: string, o: TinyLlamaOptions = {}): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(tinyLlamaConfig(o), null, 2));
  const tensors = tinyLlamaTensors(o);
  o.editTensors?.(tensors);
  if (!o.sharded) {
    save(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  } else {
    const names = Object.keys(tensors);
    const half = Math.ceil(names.length / 2);
    const shards = [names.slice(0, half), names.slice(half)];
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const file = `model-0000${i + 1}-of-00002.safetensors`;
      const rec: Record<string, Tensor> = {};
      for (const n of shard) {
        rec[n] = tensors[n];
        weightMap[n] = file;
      }
      save(path.join(dir, file), rec, { format: 'pt' });
    });
    fs.writeFileSync(path.join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  }
  for (const t of Object.values(tensors)) t.dispose();
  return dir;
}

/** Greedy continuation of `prompt` by n full forwards (no KV cache): the reference for generate(). */
export function greedyByForward(model: LlamaModel, prompt: number[], n: number, device = 'cpu'): number[] {
  const seq = [...prompt];
  noGrad(() => {
    for (let i = 0; i < n; i++) {
      tidy(() => {
        const logits = model.forward(tensor([seq], { dtype: 'int64' }).to(device));
        seq.push(Number(logits.narrow(1, seq.length - 1, 1).argmax(-1).item()));
      });
    }
  });
  return seq.slice(prompt.length);
}
