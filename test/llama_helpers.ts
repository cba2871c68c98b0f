// Writes tiny random models of every supported family (Llama, Qwen2, Qwen3, Mistral) in the Hugging Face format
// (config.json + model.safetensors) for the CPU tests.
import * as fs from 'fs';
import * as path from 'path';

import { Dtype, LlamaModel, ModelType, Tensor, manualSeed, noGrad, randn, save, tensor, tidy } from '../src';

const ARCHITECTURES: Record<ModelType, string> = {
  llama: 'LlamaForCausalLM', qwen2: 'Qwen2ForCausalLM', qwen3: 'Qwen3ForCausalLM', mistral: 'MistralForCausalLM',
};

export interface TinyLlamaOptions {
  /** config.json model_type (default llama): qwen2 adds q/k/v biases, qwen3 q_norm/k_norm, mistral sliding_window. */
  family?: ModelType;
  /** head_dim (default hidden / heads); may differ from it. */
  headDim?: number;
  /** rope_theta (default 10000). */
  ropeTheta?: number;
  /** mistral: sliding_window (default null); qwen2/qwen3: sliding_window with use_sliding_window true on every layer. */
  slidingWindow?: number | null;
  /** The dtype of the tensors on disk (default float32). */
  diskDtype?: Dtype;
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
  const family = o.family ?? 'llama';
  const theta = o.ropeTheta ?? 10000.0;
  const rope = o.llama3
    ? { rope_type: 'llama3', factor: 8.0, low_freq_factor: 1.0, high_freq_factor: 4.0, original_max_position_embeddings: 32 }
    : null;
  const c: Record<string, unknown> = {
    architectures: [ARCHITECTURES[family]],
    model_type: family,
    hidden_size: hidden,
    intermediate_size: o.intermediate ?? 128,
    num_hidden_layers: o.layers ?? 2,
    num_attention_heads: heads,
    num_key_value_heads: o.kvHeads ?? 2,
    head_dim: o.headDim ?? hidden / heads,
    hidden_act: 'silu',
    max_position_embeddings: 256,
    rms_norm_eps: 1e-5,
    tie_word_embeddings: o.tied ?? false,
    vocab_size: o.vocab ?? 300,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (family === 'llama' || family === 'qwen3') Object.assign(c, { attention_bias: false, mlp_bias: false });
  if (family === 'qwen3') delete c.mlp_bias;
  if (family === 'mistral') c.sliding_window = o.slidingWindow ?? null;
  if (family === 'qwen2' || family === 'qwen3') {
    // As Qwen2.5 / Qwen3 checkpoints: a sliding_window that use_sliding_window false leaves off.
    const on = o.slidingWindow !== undefined && o.slidingWindow !== null;
    Object.assign(c, { use_sliding_window: on, sliding_window: on ? o.slidingWindow : 32768, max_window_layers: on ? 0 : (o.layers ?? 2) });
  }
  if (o.v5) {
    c.rope_parameters = { rope_theta: theta, ...(rope ?? { rope_type: 'default' }) };
    c.dtype = o.diskDtype ?? 'float32';
  } else {
    c.rope_theta = theta;
    c.rope_scaling = rope;
    c.torch_dtype = o.diskDtype ?? 'float32';
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
  const family = o.family ?? 'llama';
  const w = (shape: number[]) => randn(shape).mul(0.1);
  const norm = (n = H) => randn([n]).mul(0.1).add(1);
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
    if (family === 'qwen2') {
      t[p + 'self_attn.q_proj.bias'] = w([c.num_attention_heads * D]).mul(3);
      t[p + 'self_attn.k_proj.bias'] = w([c.num_key_value_heads * D]).mul(3);
      t[p + 'self_attn.v_proj.bias'] = w([c.num_key_value_heads * D]).mul(3);
    }
    if (family === 'qwen3') {
      t[p + 'self_attn.q_norm.weight'] = norm(D);
      t[p + 'self_attn.k_norm.weight'] = norm(D);
    }
  }
  t['model.norm.weight'] = norm();
  if (!(o.tied ?? false)) t['lm_head.weight'] = w([V, H]);
  if (o.diskDtype !== undefined && o.diskDtype !== 'float32')
    for (const [name, x] of Object.entries(t)) {
      t[name] = x.to(o.diskDtype);
      x.dispose();
    }
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

/** What scripts/make_llama_fixture.py and make_family_fixtures.py write to expected.json: transformers' outputs. */
export interface ParityExpected {
  meta: Record<string, unknown>;
  input_ids: number[][];
  logits: number[][][];
  logprobs: number[][];
  greedy: { prompt: number[]; tokens: number[]; margins: number[] }[];
}

/** A parity fixture directory and its expected.json; a missing one fails with `howToMake` (never skipped). */
export function readParityFixture(dir: string, howToMake: string): { dir: string; expected: ParityExpected } {
  const file = path.join(dir, 'expected.json');
  if (!fs.existsSync(file))
    throw new Error(`missing HF parity fixture ${file}. Make it where Python transformers is installed (the GPU host runs it in scripts/gpu-check.sh): ${howToMake}`);
  return { dir, expected: JSON.parse(fs.readFileSync(file, 'utf8')) as ParityExpected };
}

/** Runs f with the fused CUDA kernels switched off (ATMAN_FUSED=0): the unfused reference path of the GPU tests. */
export async function withUnfused<T>(f: () => Promise<T>): Promise<T> {
  process.env.ATMAN_FUSED = '0';
  try {
    return await f();
  } finally {
    delete process.env.ATMAN_FUSED;
  }
}
