// `bench grpo` on the CPU with the bundled tiny model: a smoke run of the timed step, and its --reward-mode option
// (a mask-free reward runs no mask steps, so every mask stays at its start value).
import { runGrpoBench } from '../src/bench/grpo';
import { THETA_INIT } from '../src/bench/peer-settings';

const small = { modelDir: 'models/tiny-arith', device: 'cpu', steps: 1, prompts: 2, generations: 2, newTokens: 20, promptLen: 8, saliencyBatch: 4, microBatch: 4 };
const startS = 1 / (1 + Math.exp(-THETA_INIT));
const quietly = async <T>(fn: () => Promise<T>): Promise<T> => {
  const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
  const err = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    return await fn();
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
};
type Step = { saliency: { mean_s: number }; ms: Record<string, number> };

test('default: the K-step mask of the paper config moves the mask away from its start', async () => {
  const r = await quietly(() => runGrpoBench(small));
  expect(r.saliency_steps).toBe(30);
  expect(r.reward_mode).toBeNull();
  const step = (r.steps as Step[])[0];
  expect(Math.abs(step.saliency.mean_s - startS)).toBeGreaterThan(1e-3);
  expect(Object.keys(step.ms).sort()).toEqual(['generate', 'saliency', 'total', 'update']);
}, 120000);

test('--reward-mode cotAlone: no mask steps (every s stays at its start), the mode is recorded', async () => {
  const r = await quietly(() => runGrpoBench({ ...small, rewardMode: 'cotAlone' }));
  expect(r.saliency_steps).toBe(0);
  expect(r.reward_mode).toBe('cotAlone');
  expect((r.steps as Step[])[0].saliency.mean_s).toBeCloseTo(startS, 6);
}, 120000);

test('a mask-based mode keeps the K-step mask', async () => {
  const r = await quietly(() => runGrpoBench({ ...small, rewardMode: 'comprehensiveness' }));
  expect(r.saliency_steps).toBe(30);
  expect(r.reward_mode).toBe('comprehensiveness');
}, 120000);
