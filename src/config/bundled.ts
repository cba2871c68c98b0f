// The example configs shipped in configs/ (the same relative place from src/config and dist/config).
import * as path from 'path';

export const BUNDLED_CONFIGS = ['tiny-synthetic', 'llama-3.2-3b-gsm8k', 'llama-3.2-3b-mmlu', 'hinted-grpo'] as const;

/** Absolute path of a bundled config, e.g. bundledConfigPath('tiny-synthetic'). */
export function bundledConfigPath(name: (typeof BUNDLED_CONFIGS)[number]): string {
  return path.join(__dirname, '..', '..', 'configs', `${name}.yaml`);
}
