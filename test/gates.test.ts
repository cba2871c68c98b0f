// The gates bench (src/bench/saliency-gates.ts) on the bundled tiny model and the hinted task: cotUnhinted's rewards
// come from the completions re-read under the prompt without the hint, the other modes' from the prompt as given.
import * as path from 'path';
import { LlamaModel, Tokenizer, optimizeSaliency, saliencyReward } from '../src';
import { collectGateSets, gateProblems, measureGatesFor } from '../src/bench/saliency-gates';
import { mean } from '../src/stats';

const dir = path.join(__dirname, '..', 'models', 'tiny-arith');

test('gates: cotUnhinted reads each completion under its prompt without the hint; cotAlone under the prompt given', async () => {
  const model = await LlamaModel.load(dir);
  const tok = Tokenizer.fromDir(dir);
  try {
    const sets = await collectGateSets(model, tok, gateProblems('hinted', 32, 3), { looCount: 2, classCount: 4, G: 4, maxNewTokens: 24, seed: 1 });
    const F = sets.classed.filter((x) => x.cls === 'F');
    expect(F.length).toBeGreaterThan(0);
    for (const x of sets.classed) {
      // The unhinted example is the same completion after a shorter prompt (the 'Hint: ...' line gone).
      expect(x.unhinted.ids.length).toBeLessThan(x.example.ids.length);
      expect(x.unhinted.ids.slice(x.unhinted.cotStart)).toEqual(x.example.ids.slice(x.example.cotStart));
    }
    const sal = { steps: 2, randomSets: 1, biasFrom: 'answer' as const };
    const [unhinted, alone] = await measureGatesFor(model, tok, sets, sal, [{ mode: 'cotUnhinted' }, { mode: 'cotAlone' }]);
    const reread = await optimizeSaliency(model, F.map((x) => x.unhinted), { ...sal, padTokenId: tok.padTokenId, steps: 0, randomSets: 0, hidePrompt: false, measureResults: true });
    expect(unhinted.meanRewardF).toBeCloseTo(mean(reread.map((r) => saliencyReward(r, { mode: 'cotUnhinted' }))), 6);
    const given = await optimizeSaliency(model, F.map((x) => x.example), { ...sal, padTokenId: tok.padTokenId, hidePrompt: true });
    expect(alone.meanRewardF).toBeCloseTo(mean(given.map((r) => saliencyReward(r, { mode: 'cotAlone' }))), 6);
    expect(unhinted.nF).toBe(F.length);
  } finally {
    model.dispose();
  }
}, 600000);
