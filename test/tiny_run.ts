// The tiny CPU run the trainer tests share: the bundled tiny-synthetic config, 2 prompts × 4 completions per step,
// with each test's own settings deep-merged over it.
import * as fs from 'fs';
import * as path from 'path';
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

/** After a signal: the run's latest checkpoint is complete and stopped early (1 <= step < steps); returns its step. */
export function expectSignalCheckpoint(runDir: string, steps: number): number {
  const latest = fs.readFileSync(path.join(runDir, 'latest'), 'utf8').trim();
  expect(fs.existsSync(path.join(runDir, latest, 'COMPLETE'))).toBe(true);
  const state = JSON.parse(fs.readFileSync(path.join(runDir, latest, 'state.json'), 'utf8'));
  expect(state.step).toBeGreaterThanOrEqual(1);
  expect(state.step).toBeLessThan(steps);
  return state.step;
}
