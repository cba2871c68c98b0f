// The mask options of the training reward (src/train/saliency-options.ts rewardMaskOptionsOf): a mask-free reward mode
// optimizes no mask, a mask-reading one keeps every configured option; eval's maskOptionsOf keeps the mask either way.
import { resolveTrainConfig } from '../src/config/commands';
import { maskOptionsOf, rewardMaskOptionsOf } from '../src/train/saliency-options';

const saliency = (rewardMode: string) => resolveTrainConfig({ overrides: { 'saliency.rewardMode': rewardMode, 'saliency.steps': 30, 'saliency.randomSets': 3 } }).saliency;

test.each(['cotAlone', 'cotSufficiency', 'cotCarried'])('%s: no mask steps and no random sets in training, the mask kept for eval', (mode) => {
  const s = saliency(mode);
  expect(rewardMaskOptionsOf(s, 0, 7)).toEqual({ ...maskOptionsOf(s, 0, 7), steps: 0, randomSets: 0 });
  expect(maskOptionsOf(s, 0, 7)).toMatchObject({ steps: 30, randomSets: 3, hidePrompt: true, seed: 7 });
});

test.each(['comprehensiveness', 'crucialSufficiency'])('%s reads the mask: the training options are the configured ones', (mode) => {
  const s = saliency(mode);
  expect(rewardMaskOptionsOf(s, 0, 7)).toEqual(maskOptionsOf(s, 0, 7));
  expect(rewardMaskOptionsOf(s, 0, 7)).toMatchObject({ steps: 30, randomSets: 3 });
});
