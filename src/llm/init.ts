// Writes a freshly initialized model in the Hugging Face format, as transformers initializes one: linear and embedding
// weights ~ N(0, initializer_range), biases 0, norm weights 1. Any supported family (config model_type llama, qwen2,
// qwen3, mistral): qwen2 gets q/k/v projection biases, qwen3 q_norm/k_norm. Used to start the bundled tiny model
// before `sft`.
import * as fs from 'fs';
import * as path from 'path';

import { manualSeed, ones, randn, zeros } from '../tensor/creation';
import { save } from '../tensor/io';
import { Tensor } from '../tensor/tensor';

export interface LlamaInitConfig {
  /** llama (default), qwen2, qwen3 or mistral. */
  model_type?: string;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  vocab_size: number;
  tie_word_embeddings?: boolean;
  initializer_range?: number;
  [key: string]: unknown;
}

/** Writes config.json and model.safetensors (float32) for `config` into dir. */
export function writeRandomLlama(dir: string, config: LlamaInitConfig, seed = 0): void {
  const c = config;
  const H = c.hidden_size, I = c.intermediate_size, V = c.vocab_size;
  const family = c.model_type ?? 'llama';
  if (!['llama', 'qwen2', 'qwen3', 'mistral'].includes(family))
    throw new Error(`cannot initialize a model of model_type "${family}": supported are llama, qwen2, qwen3, mistral`);
  // Qwen3Config's head_dim defaults to 128 whatever hidden_size is (as the native loader reads it).
  const D = (c.head_dim as number | undefined) ?? (family === 'qwen3' ? 128 : H / c.num_attention_heads);
  const std = c.initializer_range ?? 0.02;
  manualSeed(seed);
  const w = (shape: number[]) => randn(shape).mul(std);
  const t: Record<string, Tensor> = { 'model.embed_tokens.weight': w([V, H]) };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    t[p + 'input_layernorm.weight'] = ones([H]);
    t[p + 'self_attn.q_proj.weight'] = w([c.num_attention_heads * D, H]);
    t[p + 'self_attn.k_proj.weight'] = w([c.num_key_value_heads * D, H]);
    t[p + 'self_attn.v_proj.weight'] = w([c.num_key_value_heads * D, H]);
    t[p + 'self_attn.o_proj.weight'] = w([H, c.num_attention_heads * D]);
    t[p + 'post_attention_layernorm.weight'] = ones([H]);
    t[p + 'mlp.gate_proj.weight'] = w([I, H]);
    t[p + 'mlp.up_proj.weight'] = w([I, H]);
    t[p + 'mlp.down_proj.weight'] = w([H, I]);
    if (family === 'qwen2') {
      t[p + 'self_attn.q_proj.bias'] = zeros([c.num_attention_heads * D]);
      t[p + 'self_attn.k_proj.bias'] = zeros([c.num_key_value_heads * D]);
      t[p + 'self_attn.v_proj.bias'] = zeros([c.num_key_value_heads * D]);
    }
    if (family === 'qwen3') {
      t[p + 'self_attn.q_norm.weight'] = ones([D]);
      t[p + 'self_attn.k_norm.weight'] = ones([D]);
    }
  }
  t['model.norm.weight'] = ones([H]);
  if (!c.tie_word_embeddings) t['lm_head.weight'] = w([V, H]);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ model_type: 'llama', ...c, head_dim: D }, null, 2) + '\n');
  save(path.join(dir, 'model.safetensors'), t, { format: 'pt' });
  for (const x of Object.values(t)) x.dispose();
}
