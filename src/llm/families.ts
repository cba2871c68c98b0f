// Model families: which Hugging Face checkpoints load (config.json model_type), the one entry point that loads any of
// them, and the sequence limit a family's config implies. Every family runs on the same native decoder
// (native/llama/family.h): a family only switches options (q/k/v biases, q/k head norms, the sliding window).
import type { ModelType } from '../native';
import { LlamaConfig, LlamaLoadOptions, LlamaModel } from './model';

export type { ModelType } from '../native';

/** The config.json model_type values atman-native loads (native/llama/family.h lists the same). */
export const MODEL_TYPES: readonly ModelType[] = Object.freeze(['llama', 'qwen2', 'qwen3', 'mistral'] as ModelType[]);

/**
 * Loads a Hugging Face causal-LM directory of any supported family (config.json `model_type`: llama, qwen2, qwen3,
 * mistral) with config.json and model.safetensors or a sharded model.safetensors.index.json. The model has the
 * LlamaModel interface whatever the family; `model.config.modelType` says which was loaded. An unsupported
 * model_type rejects with an Error that lists the supported ones.
 */
export async function loadModel(dir: string, opts: LlamaLoadOptions = {}): Promise<LlamaModel> {
  return LlamaModel.load(dir, opts);
}

/**
 * The longest sequence (prompt plus generated tokens) the model runs: max_position_embeddings, or the sliding window
 * when one applies and is smaller (atman-native refuses sequences the window would cut rather than implement it).
 * `what` names the config.json field for messages.
 */
export function sequenceLimit(c: LlamaConfig): { tokens: number; what: string } {
  if (c.slidingWindow !== null && c.slidingWindow < c.maxPositionEmbeddings) return { tokens: c.slidingWindow, what: 'sliding_window' };
  return { tokens: c.maxPositionEmbeddings, what: 'max_position_embeddings' };
}
