// Hand-written LoRA adapters in PEFT's format (as peft's save_pretrained writes them) for the CPU tests, and the
// reference they are checked against: the merged weights W + (alpha / r) · B A computed here with plain tensor ops.
import * as fs from 'fs';
import * as path from 'path';

import { Tensor, manualSeed, noGrad, randn, save } from '../src';
import type { ReferenceModel } from './family_reference';

export const ALL_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'];
const MODULE: Record<string, string> = {
  q_proj: 'self_attn', k_proj: 'self_attn', v_proj: 'self_attn', o_proj: 'self_attn', gate_proj: 'mlp', up_proj: 'mlp', down_proj: 'mlp',
};

/** adapter_config.json as peft 0.17 writes it for a LoraConfig (fields this project does not read included). */
export function peftConfig(o: { r: number; alpha: number; targets?: string[]; dropout?: number }): Record<string, unknown> {
  return {
    alpha_pattern: {}, auto_mapping: null, base_model_name_or_path: 'tiny', bias: 'none', corda_config: null, eva_config: null,
    exclude_modules: null, fan_in_fan_out: false, inference_mode: true, init_lora_weights: true, layer_replication: null,
    layers_pattern: null, layers_to_transform: null, loftq_config: {}, lora_alpha: o.alpha, lora_bias: false, lora_dropout: o.dropout ?? 0.0,
    megatron_config: null, megatron_core: 'megatron.core', modules_to_save: null, peft_type: 'LORA', qalora_group_size: 16, r: o.r,
    rank_pattern: {}, revision: null, target_modules: o.targets ?? ALL_TARGETS, target_parameters: null, task_type: 'CAUSAL_LM',
    trainable_token_indices: null, use_dora: false, use_qalora: false, use_rslora: false,
  };
}

export const loraKey = (layer: number, target: string, ab: 'A' | 'B') =>
  `base_model.model.model.layers.${layer}.${MODULE[target]}.${target}.lora_${ab}.weight`;

/** The [out, in] shape of a target's weight in a model of the given config.json. */
export function targetShape(config: Record<string, number>, target: string): [number, number] {
  const H = config.hidden_size, I = config.intermediate_size, D = config.head_dim ?? H / config.num_attention_heads;
  const q = config.num_attention_heads * D, kv = config.num_key_value_heads * D;
  const shapes: Record<string, [number, number]> = {
    q_proj: [q, H], k_proj: [kv, H], v_proj: [kv, H], o_proj: [H, q], gate_proj: [I, H], up_proj: [I, H], down_proj: [H, I],
  };
  return shapes[target];
}

/**
 * Writes a PEFT adapter with random non-zero A and B (std 0.1, float32) for the model whose config.json is given, and
 * returns its tensors by key (the caller disposes them). `edit` may change the tensors or the config before writing.
 */
export function writePeftAdapter(
  dir: string, modelConfig: Record<string, number>,
  o: { r: number; alpha: number; targets?: string[]; seed?: number; edit?: (t: Record<string, Tensor>, c: Record<string, unknown>) => void },
): Record<string, Tensor> {
  fs.mkdirSync(dir, { recursive: true });
  manualSeed(o.seed ?? 7);
  const tensors: Record<string, Tensor> = {};
  for (let i = 0; i < modelConfig.num_hidden_layers; i++)
    for (const t of o.targets ?? ALL_TARGETS) {
      const [out, inF] = targetShape(modelConfig, t);
      tensors[loraKey(i, t, 'A')] = randn([o.r, inF]).mul(0.1);
      tensors[loraKey(i, t, 'B')] = randn([out, o.r]).mul(0.1);
    }
  const config = peftConfig(o);
  o.edit?.(tensors, config);
  save(path.join(dir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
  fs.writeFileSync(path.join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  return tensors;
}

/** Replaces the reference's target weights by W + scale · B A (float64), for the adapter's tensors. */
export function mergeIntoReference(ref: ReferenceModel, adapter: Record<string, Tensor>, scale: number): void {
  noGrad(() => {
    for (const key of Object.keys(adapter)) {
      const m = /^base_model\.model\.(model\.layers\.\d+\.\w+\.\w+)\.lora_A\.weight$/.exec(key);
      if (m === null) continue;
      const name = `${m[1]}.weight`;
      const A = adapter[key].double(), B = adapter[key.replace('lora_A', 'lora_B')].double();
      const merged = ref.w[name].add(B.matmul(A).mul(scale));
      for (const t of [A, B, ref.w[name]]) t.dispose();
      ref.w[name] = merged;
    }
  });
}
