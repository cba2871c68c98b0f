// LoRA options as the API and the config take them, checked before they reach native code (native/llama/lora.h).

/** The linear layers a LoRA adapter can target, by PEFT's module names. */
export const LORA_TARGETS = Object.freeze(['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const);
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface LoraOptions {
  /** Rank (default 16). */
  r?: number;
  /** Scale numerator: the update is (alpha / r) · B A x (default 2 · r). */
  alpha?: number;
  /** Dropout on the adapter's input while training (default 0). */
  dropout?: number;
  /** Linear layers to adapt (default: all of attention and MLP; 'all-linear' says the same). */
  targetModules?: LoraTarget[] | 'all-linear';
  /** base_model_name_or_path written to adapter_config.json. */
  baseModel?: string;
}

/** A model's adapter as it is now. */
export interface AdapterInfo {
  r: number;
  alpha: number;
  dropout: number;
  targetModules: LoraTarget[];
  /** False while the model computes its base alone (withAdapterDisabled). */
  enabled: boolean;
}

const KEYS = ['r', 'alpha', 'dropout', 'targetModules', 'baseModel'];

/** Checks and completes LoRA options; errors name the option and what it takes. */
export function resolveLoraOptions(o: unknown): Required<Omit<LoraOptions, 'baseModel' | 'targetModules'>> & { targetModules: LoraTarget[]; baseModel: string | null } {
  if (o === undefined || o === null) o = {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new TypeError('wrong argument type: addLora() options must be an object {r, alpha, dropout, targetModules}');
  const x = o as Record<string, unknown>;
  for (const k of Object.keys(x)) if (!KEYS.includes(k)) throw new TypeError(`unknown option '${k}': addLora() takes ${KEYS.join(', ')}`);
  const r = x.r ?? 16;
  if (!(typeof r === 'number' && Number.isSafeInteger(r) && r >= 1)) throw new RangeError(`invalid values: LoRA r must be a positive integer, got ${String(r)}`);
  const alpha = x.alpha ?? 2 * r;
  if (!(typeof alpha === 'number' && Number.isFinite(alpha) && alpha > 0)) throw new RangeError(`invalid values: LoRA alpha must be a positive number, got ${String(alpha)}`);
  const dropout = x.dropout ?? 0;
  if (!(typeof dropout === 'number' && dropout >= 0 && dropout < 1)) throw new RangeError(`invalid values: LoRA dropout must be in [0, 1), got ${String(dropout)}`);
  const t = x.targetModules ?? 'all-linear';
  let targetModules: LoraTarget[];
  if (t === 'all-linear') targetModules = [...LORA_TARGETS];
  else if (Array.isArray(t) && t.length > 0) {
    for (const name of t)
      if (!(LORA_TARGETS as readonly unknown[]).includes(name))
        throw new RangeError(`invalid values: LoRA target module ${JSON.stringify(name)} is not supported; targets: ${LORA_TARGETS.join(', ')} (or 'all-linear')`);
    targetModules = [...new Set(t as LoraTarget[])];
  } else throw new RangeError(`invalid values: LoRA targetModules must be a non-empty list of ${LORA_TARGETS.join(', ')}, or 'all-linear'`);
  const baseModel = x.baseModel ?? null;
  if (baseModel !== null && typeof baseModel !== 'string') throw new TypeError('wrong argument type: LoRA baseModel must be a string');
  return { r, alpha, dropout, targetModules, baseModel };
}
