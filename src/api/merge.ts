// merge(): a base model plus a LoRA adapter (PEFT format) folded into one Hugging Face checkpoint, loadable like any
// model here or by transformers (the `merge` command).
import { resolvePackagePath } from '../config/package-path';
import { LlamaModel } from '../llm/model';
import { saveModelWithTokenizer } from '../train/sft';

export interface MergeOptions {
  /** The base model directory the adapter was trained on. */
  model: string;
  /** The adapter directory (adapter_config.json + adapter_model.safetensors). */
  adapter: string;
  /** Where the merged model goes (written through a temporary directory); the base's tokenizer files are copied. */
  out: string;
  /** Weights' dtype (default: the base's, as on disk). The merge sums in float32 and rounds once to it. */
  dtype?: 'float32' | 'bfloat16' | 'float16' | 'float64';
}

export async function merge(o: MergeOptions): Promise<{ out: string; r: number; targetModules: string[] }> {
  for (const k of ['model', 'adapter', 'out'] as const)
    if (typeof o[k] !== 'string' || o[k] === '') throw new TypeError(`merge needs --${k} DIR`);
  const base = resolvePackagePath(o.model);
  const model = await LlamaModel.load(base, { device: 'cpu', dtype: o.dtype });
  try {
    await model.loadAdapter(o.adapter);
    const { r, targetModules } = model.adapter!;
    model.mergeAdapter();
    saveModelWithTokenizer(model, base, o.out);
    return { out: o.out, r, targetModules };
  } finally {
    model.dispose();
  }
}
