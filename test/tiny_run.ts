// The tiny CPU run the trainer tests share: the bundled tiny-synthetic config, 2 prompts × 4 completions per step,
// with each test's own settings deep-merged over it.
import { resolveConfig } from '../src/config';
import { deepMerge } from '../src/config/overrides';

export function tinyRunConfig(runsDir: string, name: string, steps: number, overrides: Record<string, unknown> = {}) {
  const base = {
    name, runsDir, device: 'cpu',
    grpo: { steps, promptsPerStep: 2, numGenerations: 4 },
    generation: { maxNewTokens: 24 },
    saliency: { steps: 3 },
    logging: { reportEvery: 0 },
  };
  return resolveConfig({ file: 'configs/tiny-synthetic.yaml', overrides: deepMerge(base, overrides) });
}
