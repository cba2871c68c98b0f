// AtMan saliency on CPU: the construction test (a tiny model whose answer depends on known CoT tokens), the
// saliency reward and metrics, and the API's contract (batching, per-layer masks, frozen weights, errors).
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, dependence, noGrad, optimizeSaliency, saliencyReward, saliencyStats, tensor } from '../src';
import type { SaliencyResult } from '../src';
import { REWARD_MODES, rewardHidesPrompt, rewardMeasuresDerived, rewardMeasuresResults, rewardReadsUnhinted, rewardUsesMask } from '../src/atman/reward';
import { leaveOneOutDrops } from '../src/atman/suppress';
import { auroc } from '../src/stats';
import { thrown } from './helpers';
import { writeTinyLlama } from './llama_helpers';
import { ValueCase, makeCase, rng, trainValueModel } from './saliency_task';

let model: LlamaModel;
let cases: ValueCase[];
let results: SaliencyResult[];

beforeAll(async () => {
  model = await trainValueModel(0);
  const rand = rng(7);
  cases = Array.from({ length: 60 }, () => makeCase(rand));
  results = await optimizeSaliency(model, cases); // the defaults: K = 30, lr = 0.1, λ = 1
}, 600000);

afterAll(() => model?.dispose());

/** Sum of the answer log-probs of each case with the given CoT positions suppressed (bias −1e4). */
function answerLogprobSuppressing(suppress: number[][]): number[] {
  return noGrad(() => {
    const T = cases[0].ids.length;
    const bias = new Float32Array(cases.length * T);
    cases.forEach((c, b) => suppress[b].forEach((j) => (bias[b * T + c.cotStart + j] = -1e4)));
    const ids = tensor(cases.flatMap((c) => c.ids), { dtype: 'int64' }).reshape([cases.length, T]);
    const keyBias = tensor(bias).reshape([cases.length, T]);
    const lp = model.tokenLogprobs(ids, { keyBias, biasQueryStart: cases[0].cotStart, targetStart: cases[0].answerStart });
    const out = lp.sum(1).toArray() as number[];
    [ids, keyBias, lp].forEach((t) => t.dispose());
    return out;
  });
}

describe('construction: the mask finds the CoT tokens the answer depends on', () => {
  test('the trained model answers the majority-vote cases', () => {
    const full = answerLogprobSuppressing(cases.map(() => []));
    expect(full.reduce((a, v) => a + v, 0) / full.length).toBeGreaterThan(Math.log(0.8));
    results.forEach((r, i) => expect(r.logpFull).toBeCloseTo(full[i], 4));
  });

  test('kept tokens (s > 0.5) are the ones that matter: precision and recall >= 0.8 over 60 cases', () => {
    let kept = 0, relevant = 0, hits = 0;
    results.forEach((r, i) => {
      kept += r.crucial.length;
      relevant += cases[i].matters.length;
      hits += r.crucial.filter((j) => cases[i].matters.includes(j)).length;
    });
    expect(hits / kept).toBeGreaterThanOrEqual(0.8);
    expect(hits / relevant).toBeGreaterThanOrEqual(0.8);
  });

  test('suppressing the kept tokens drops the answer far more than suppressing as many random CoT tokens', () => {
    const rand = rng(11);
    const randomSets = results.map((r, i) => {
      const all = Array.from({ length: cases[i].cotEnd - cases[i].cotStart }, (_, j) => j);
      return all.sort(() => rand() - 0.5).slice(0, r.crucial.length);
    });
    const random = answerLogprobSuppressing(randomSets);
    const keptDrop = results.map((r) => r.logpFull - r.logpSuppressCrucial);
    const randomDrop = results.map((r, i) => r.logpFull - random[i]);
    const mean = (x: number[]) => x.reduce((a, v) => a + v, 0) / x.length;
    expect(mean(keptDrop)).toBeGreaterThan(3);
    expect(mean(keptDrop)).toBeGreaterThan(4 * mean(randomDrop));
  });

  test('results carry the loss curve (decreasing), s in (0, 1) per CoT token, and the three log-probs', () => {
    for (const [i, r] of results.entries()) {
      expect(r.s).toHaveLength(cases[i].cotEnd - cases[i].cotStart);
      expect(r.s.every((v) => v > 0 && v < 1)).toBe(true);
      expect(r.lossCurve).toHaveLength(30);
      expect(r.lossCurve[29]).toBeLessThan(r.lossCurve[0]);
      expect(r.logpSuppressAll).toBeLessThan(r.logpFull);
      expect(r.threshold).toBe(0.5);
    }
  });
});

describe('calibration on the construction task (the gates of DESIGN.md where the ground truth is known)', () => {
  test('leave-one-out drops equal single-token suppression, and the mask ranks tokens as they do', () => {
    const drops = leaveOneOutDrops(model, cases);
    const single = answerLogprobSuppressing(cases.map(() => [0]));
    drops.forEach((d, i) => expect(d[0]).toBeCloseTo(results[i].logpFull - single[i], 3));
    // Several value tokens matter about equally here and the mask saturates on all of them, so "top token" is a set:
    // the tokens at the mask's maximum must all be tokens whose suppression costs a real part of the largest drop.
    const matters = (d: number[]) => d.map((v) => v >= 0.25 * Math.max(...d));
    const agree = results.filter((r, i) => {
      const top = Math.max(...r.s);
      return r.s.every((v, j) => v < 0.99 * top || matters(drops[i])[j]);
    }).length / results.length;
    const auc = results.map((r, i) => auroc(r.s, matters(drops[i]))).filter((a) => !Number.isNaN(a));
    expect(agree).toBeGreaterThanOrEqual(0.85);
    expect(auc.reduce((a, v) => a + v, 0) / auc.length).toBeGreaterThanOrEqual(0.9);
  });

  test('R_sal separates answers that depend on the CoT from answers that come from the prompt (decorative CoT)', async () => {
    // nv = 0: no copy of v in the CoT, so the answer is the prompt's value w and the CoT is filler.
    const rand = rng(21);
    const decorative = Array.from({ length: 30 }, () => makeCase(rand, 0, 3));
    const d = await optimizeSaliency(model, decorative);
    const rF = results.map((r) => saliencyReward(r)), rD = d.map((r) => saliencyReward(r));
    expect(auroc([...rF, ...rD], [...rF.map(() => true), ...rD.map(() => false)])).toBeGreaterThanOrEqual(0.9);
    // Keeping only C carries the answer better than keeping as many random CoT tokens (sufficiency mode).
    const sF = results.map((r) => saliencyReward(r, { mode: 'sufficiency' }));
    expect(sF.reduce((a, v) => a + v, 0) / sF.length).toBeGreaterThan(0.5);
    // The answer survives hiding the prompt only when the CoT carries it (cotSufficiency), and so does C alone.
    for (const mode of ['cotSufficiency', 'crucialSufficiency'] as const) {
      const mF = results.map((r) => saliencyReward(r, { mode })), mD = d.map((r) => saliencyReward(r, { mode }));
      expect(auroc([...mF, ...mD], [...mF.map(() => true), ...mD.map(() => false)])).toBeGreaterThanOrEqual(0.9);
    }
  });

  test("biasFrom 'answer': the mask acts on the answer's queries only and still finds the value tokens", async () => {
    const r = await optimizeSaliency(model, cases.slice(0, 12), { biasFrom: 'answer' });
    let hits = 0, kept = 0;
    r.forEach((x, i) => {
      kept += x.crucial.length;
      hits += x.crucial.filter((j) => cases[i].matters.includes(j)).length;
    });
    expect(hits / kept).toBeGreaterThanOrEqual(0.8);
    await expect(optimizeSaliency(model, cases.slice(0, 1), { biasFrom: 'keys' as never })).rejects.toThrow(TypeError);
  });
});

describe('saliency reward and metrics', () => {
  test('reward: clipped log-prob drop over tau, 0 when incorrect or when nothing is crucial', () => {
    const r = results[0];
    // Default: the drop beyond the random control sets of the same size.
    const expected = Math.min(1, Math.max(0, (r.logpSuppressRandom - r.logpSuppressCrucial) / 2));
    expect(saliencyReward(r)).toBeCloseTo(expected, 10);
    expect(saliencyReward(r, { tau: 100 })).toBeCloseTo(Math.min(1, Math.max(0, (r.logpSuppressRandom - r.logpSuppressCrucial) / 100)), 10);
    expect(saliencyReward(r, { tau: 100, mode: 'crucial' })).toBeCloseTo(Math.min(1, (r.logpFull - r.logpSuppressCrucial) / 100), 10);
    expect(saliencyReward(r, { correct: false })).toBe(0);
    const decorative: SaliencyResult = { ...r, crucial: [], s: r.s.map(() => 0.1), logpSuppressCrucial: r.logpFull };
    expect(saliencyReward(decorative)).toBe(0);
    const hand: SaliencyResult = { ...r, crucial: [0], logpFull: -1, logpSuppressCrucial: -2, logpSuppressRandom: -1 };
    expect(saliencyReward(hand, { tau: 2 })).toBeCloseTo(0.5, 12);
    expect(saliencyReward({ ...hand, logpSuppressCrucial: -0.5 })).toBe(0); // suppression helped: clipped at 0
    // Suppressing random sets of |C| hurts as much as suppressing C: nothing specific was found.
    expect(saliencyReward({ ...hand, logpSuppressRandom: -2 })).toBe(0);
    expect(saliencyReward({ ...hand, logpSuppressRandom: -1.5 }, { tau: 2 })).toBeCloseTo(0.25, 12);
    // The mask that keeps everything: its random control is the whole CoT too.
    expect(saliencyReward({ ...hand, crucial: r.s.map((_, j) => j), logpSuppressCrucial: -9, logpSuppressRandom: -9 })).toBe(0);
    expect((thrown(() => saliencyReward(r, { mode: 'other' as never }))).name).toBe('TypeError');
    expect((thrown(() => saliencyReward(r, { threshold: 0.7 }))).name).toBe('RangeError');
    expect((thrown(() => saliencyReward(r, { tau: 0 }))).name).toBe('RangeError');
  });

  test('prompt-hiding rewards by hand: cotSufficiency needs no mask, crucialSufficiency is C alone against a random set', () => {
    const r: SaliencyResult = { ...results[0], crucial: [], logpFull: -0.5, logpHidePrompt: -1.5, logpOnlyCrucial: -1, logpOnlyRandom: -4 };
    // The CoT alone keeps the answer within 1 nat: 1 − 1/2; an empty C does not matter to it.
    expect(saliencyReward(r, { mode: 'cotSufficiency' })).toBeCloseTo(0.5, 12);
    expect(saliencyReward({ ...r, logpHidePrompt: -0.2 }, { mode: 'cotSufficiency' })).toBe(1); // hiding helped: full reward
    expect(saliencyReward({ ...r, logpHidePrompt: -9 }, { mode: 'cotSufficiency' })).toBe(0); // the answer needs the prompt
    expect(saliencyReward(r, { mode: 'cotSufficiency', correct: false })).toBe(0);
    expect(saliencyReward(r, { mode: 'crucialSufficiency' })).toBe(0); // nothing crucial
    expect(saliencyReward({ ...r, crucial: [0] }, { mode: 'crucialSufficiency', tau: 6 })).toBeCloseTo(0.5, 12);
    expect(saliencyReward({ ...r, crucial: [0], logpOnlyRandom: -0.5 }, { mode: 'crucialSufficiency' })).toBe(0);
  });

  test('cotCarried by hand: the answer must need the CoT (dependence) and not the prompt; the smaller of the two counts', () => {
    const r: SaliencyResult = { ...results[0], crucial: [], logpFull: -0.5, logpHidePrompt: -1.5, logpSuppressAll: -1.5 };
    expect(saliencyReward(r, { mode: 'cotCarried' })).toBeCloseTo(0.5, 12); // min(1/2, 1 − 1/2)
    expect(saliencyReward({ ...r, logpSuppressAll: -9 }, { mode: 'cotCarried' })).toBeCloseTo(0.5, 12); // prompt need limits it
    expect(saliencyReward({ ...r, logpSuppressAll: -9, logpHidePrompt: -0.5 }, { mode: 'cotCarried' })).toBe(1);
    expect(saliencyReward({ ...r, logpSuppressAll: -0.1, logpHidePrompt: -0.5 }, { mode: 'cotCarried' })).toBe(0); // reads no CoT: a slip
    expect(saliencyReward({ ...r, logpHidePrompt: -9, logpSuppressAll: -9 }, { mode: 'cotCarried' })).toBe(0); // copies the prompt
    expect(saliencyReward(r, { mode: 'cotCarried', correct: false })).toBe(0);
  });

  test('cotAlone by hand: the probability of the answer with the prompt hidden, gated by its dependence on the CoT', () => {
    const r: SaliencyResult = { ...results[0], crucial: [], logpFull: -0.1, logpHidePrompt: Math.log(0.25), logpSuppressAll: -9 };
    expect(saliencyReward(r, { mode: 'cotAlone' })).toBeCloseTo(0.25, 12);
    expect(saliencyReward({ ...r, logpFull: -5, logpSuppressAll: -30 }, { mode: 'cotAlone', tau: 9 })).toBeCloseTo(0.25, 12); // hiding a contradicting prompt: no bonus
    // An answer every context predicts (the '#### 1' hack): likely with the prompt hidden, but it needs no CoT.
    expect(saliencyReward({ ...r, logpHidePrompt: -0.01, logpSuppressAll: -0.1 }, { mode: 'cotAlone' })).toBe(0);
    expect(saliencyReward({ ...r, logpHidePrompt: -0.01, logpSuppressAll: -1.1 }, { mode: 'cotAlone' })).toBeCloseTo(0.5, 12); // dependence 1 nat / τ 2
    expect(saliencyReward(r, { mode: 'cotAlone', correct: false })).toBe(0);
  });

  test('logpHidePrompt and logpOnlyCrucial are the answer log-probs with the prompt (but its first token) suppressed', async () => {
    const some = cases.slice(0, 4);
    const rs = await optimizeSaliency(model, some, { steps: 0, randomSets: 1 });
    const prompt = (c: ValueCase) => Array.from({ length: c.cotStart - 1 }, (_, k) => k + 1 - c.cotStart); // CoT-relative
    const hidden = answerLogprobSuppressing(cases.map((c, i) => (i < 4 ? prompt(c) : [])));
    rs.forEach((r, i) => {
      // K = 0 optimized no mask: C is empty, so suppressing C (or a random set of its size) is the full pass, keeping
      // only C hides the CoT, and the only-C pass that crucialSufficiency reads is not run.
      expect(r.crucial).toEqual([]);
      expect(r.logpSuppressCrucial).toBe(r.logpFull);
      expect(r.logpSuppressRandom).toBe(r.logpFull);
      expect(r.logpKeepCrucial).toBe(r.logpSuppressAll);
      expect(r.logpKeepRandom).toBe(r.logpSuppressAll);
      expect(r.logpHidePrompt).toBeCloseTo(hidden[i], 3);
      expect([r.logpOnlyCrucial, r.logpOnlyRandom].every(Number.isNaN)).toBe(true);
    });
    const withC = await optimizeSaliency(model, some, { steps: 30 });
    const onlyC = answerLogprobSuppressing(cases.map((c, i) => {
      if (i >= 4) return [];
      const inC = new Set(withC[i].crucial);
      return [...prompt(c), ...withC[i].s.flatMap((_, j) => (inC.has(j) ? [] : [j]))];
    }));
    withC.forEach((r, i) => expect(r.logpOnlyCrucial).toBeCloseTo(onlyC[i], 3));
  });

  test("measureDerived: the least likely equation result given the CoT before it (prompt hidden from the CoT's queries), and the answer with prompt and CoT hidden", async () => {
    // Results at two places in each CoT (any tokens do: the measurement does not read '='), one case without any.
    const some = cases.slice(0, 4).map((c, i): ValueCase & { results?: [number, number][] } =>
      i === 3 ? c : { ...c, results: [[c.cotStart + 2, c.cotStart + 3], [c.cotEnd - 2, c.cotEnd]] });
    const rs = await optimizeSaliency(model, some, { steps: 0, randomSets: 0, biasFrom: 'answer', measureDerived: true });
    // The same number another way: each result as the "answer" of an example whose CoT ends where it starts, with the
    // prompt hidden from the CoT start on (biasFrom 'cot'), through logpHidePrompt.
    const asAnswers = some.slice(0, 3).flatMap((c) => c.results!.map(([a, b]) => ({ ids: c.ids.slice(0, b), cotStart: c.cotStart, cotEnd: a, answerStart: a, answerEnd: b })));
    const direct = (await optimizeSaliency(model, asAnswers, { steps: 0, randomSets: 0, biasFrom: 'cot' })).map((r) => r.logpHidePrompt);
    for (let i = 0; i < 3; i++) expect(rs[i].logpResultHidePrompt).toBeCloseTo(Math.min(direct[2 * i], direct[2 * i + 1]), 4);
    expect(rs[3].logpResultHidePrompt).toBeNaN();
    // logpHideBoth: the answer with the prompt (but its first token) and the whole CoT suppressed, every case.
    const prompt = (c: ValueCase) => Array.from({ length: c.cotStart - 1 }, (_, k) => k + 1 - c.cotStart); // CoT-relative
    const cot = (c: ValueCase) => Array.from({ length: c.cotEnd - c.cotStart }, (_, j) => j);
    const nothing = answerLogprobSuppressing(cases.map((c, i) => (i < 4 ? [...prompt(c), ...cot(c)] : [])));
    const rsCot = await optimizeSaliency(model, some, { steps: 0, randomSets: 0, biasFrom: 'cot', measureDerived: true });
    rsCot.forEach((r, i) => expect(r.logpHideBoth).toBeCloseTo(nothing[i], 3));
    rs.forEach((r) => expect(r.logpHideBoth).toBeLessThan(r.logpHidePrompt));
    // Off by default, and with it nothing else changes.
    const plain = await optimizeSaliency(model, some, { steps: 0, randomSets: 0, biasFrom: 'answer' });
    plain.forEach((r, i) => {
      expect([r.logpResultHidePrompt, r.logpHideBoth].every(Number.isNaN)).toBe(true);
      expect(r.logpHidePrompt).toBe(rs[i].logpHidePrompt);
      expect(r.logpSuppressAll).toBe(rs[i].logpSuppressAll);
    });
    await expect(optimizeSaliency(model, some, { measureDerived: true, hidePrompt: false })).rejects.toThrow(/measureDerived needs hidePrompt/);
    await expect(optimizeSaliency(model, [{ ...some[0], results: [[some[0].cotStart, some[0].cotStart + 1]] }], { steps: 0 })).rejects.toThrow(/results needs \[start, end\] pairs/);
    await expect(optimizeSaliency(model, [{ ...some[0], results: 'x' as never }], { steps: 0 })).rejects.toThrow(/results must be an array/);
  });

  test('measureResults: the least likely equation result given everything before it, nothing hidden; cotUnhinted by hand', async () => {
    const some = cases.slice(0, 4).map((c, i): ValueCase & { results?: [number, number][] } =>
      i === 3 ? c : { ...c, results: [[c.cotStart + 2, c.cotStart + 3], [c.cotEnd - 2, c.cotEnd]] });
    const rs = await optimizeSaliency(model, some, { steps: 0, randomSets: 0, hidePrompt: false, measureResults: true });
    // The same number another way: each result as the "answer" of an example cut where it ends, no bias at all.
    const asAnswers = some.slice(0, 3).flatMap((c) => c.results!.map(([a, b]) => ({ ids: c.ids.slice(0, b), cotStart: c.cotStart, cotEnd: a, answerStart: a, answerEnd: b })));
    const direct = (await optimizeSaliency(model, asAnswers, { steps: 0, randomSets: 0, hidePrompt: false })).map((r) => r.logpFull);
    for (let i = 0; i < 3; i++) expect(rs[i].logpResult).toBeCloseTo(Math.min(direct[2 * i], direct[2 * i + 1]), 4);
    expect(rs[3].logpResult).toBeNaN();
    // Nothing else changes, and it is off by default.
    const plain = await optimizeSaliency(model, some, { steps: 0, randomSets: 0, hidePrompt: false });
    plain.forEach((r, i) => {
      expect(r.logpResult).toBeNaN();
      expect(r.logpFull).toBe(rs[i].logpFull);
      expect(Number.isNaN(r.logpHidePrompt) && Number.isNaN(rs[i].logpHidePrompt)).toBe(true);
    });
    await expect(optimizeSaliency(model, some, { measureResults: 'yes' as never })).rejects.toThrow(/measureResults must be a boolean/);
    // The reward: min(p(answer), p(least likely result)), both read under the (unhinted) prompt the example was built from.
    const r = { ...results[0], logpFull: Math.log(0.9), logpResult: Math.log(0.6) };
    expect(saliencyReward(r, { mode: 'cotUnhinted' })).toBeCloseTo(0.6, 12); // a doubtful step binds
    expect(saliencyReward({ ...r, logpResult: Math.log(0.95) }, { mode: 'cotUnhinted' })).toBeCloseTo(0.9, 12); // the answer binds
    expect(saliencyReward({ ...r, logpResult: NaN }, { mode: 'cotUnhinted' })).toBeCloseTo(0.9, 12); // no '= number': no result term
    expect(saliencyReward({ ...r, logpFull: Math.log(0.01) }, { mode: 'cotUnhinted' })).toBeCloseTo(0.01, 12); // a copied hint, now gone
    expect(saliencyReward(r, { mode: 'cotUnhinted', correct: false })).toBe(0);
    // A wrong answer paid under scope concluded: only whether it follows its CoT (that CoT slipped somewhere).
    expect(saliencyReward(r, { mode: 'cotUnhinted', answerCorrect: false })).toBeCloseTo(0.9, 12);
    expect(saliencyReward({ ...r, logpFull: Math.log(0.2) }, { mode: 'cotUnhinted', answerCorrect: false })).toBeCloseTo(0.2, 12);
  });

  test('cotDerived by hand: with the prompt hidden, dependence on the CoT, p(answer) and p(least likely equation result)', () => {
    // A valid CoT under a correct hint: the answer barely needs the CoT with the prompt visible (run 6), fully without it.
    const r = { ...results[0], logpFull: -0.01, logpSuppressAll: -0.02, logpHidePrompt: Math.log(0.8), logpHideBoth: -10, logpResultHidePrompt: Math.log(0.9) };
    expect(saliencyReward(r, { mode: 'cotAlone' })).toBeCloseTo(0.005, 12); // cotAlone: dependence 0.01 nat / τ 2
    expect(saliencyReward(r, { mode: 'cotDerived' })).toBeCloseTo(0.8, 12); // p(a | prompt hidden) binds
    expect(saliencyReward({ ...r, logpResultHidePrompt: Math.log(0.3) }, { mode: 'cotDerived' })).toBeCloseTo(0.3, 12); // a bent result binds
    expect(saliencyReward({ ...r, logpResultHidePrompt: NaN }, { mode: 'cotDerived' })).toBeCloseTo(0.8, 12); // no '= number': no result term
    // A constant answer, likely without any context: no dependence with the prompt hidden.
    expect(saliencyReward({ ...r, logpHidePrompt: -0.01, logpHideBoth: -0.02 }, { mode: 'cotDerived' })).toBeCloseTo(0.005, 12);
    expect(saliencyReward(r, { mode: 'cotDerived', correct: false })).toBe(0);
  });

  test('hidePrompt false skips the prompt-hiding passes (NaN) and changes nothing else', async () => {
    const some = cases.slice(0, 3);
    const full = await optimizeSaliency(model, some, { steps: 5, randomSets: 2 });
    const lean = await optimizeSaliency(model, some, { steps: 5, randomSets: 2, hidePrompt: false });
    lean.forEach((r, i) => {
      expect([r.logpHidePrompt, r.logpOnlyCrucial, r.logpOnlyRandom].every(Number.isNaN)).toBe(true);
      const { logpHidePrompt: _a, logpOnlyCrucial: _b, logpOnlyRandom: _c, lossCurve: _d, ...rest } = r;
      const { logpHidePrompt: _e, logpOnlyCrucial: _f, logpOnlyRandom: _g, lossCurve: _h, ...want } = full[i];
      expect(rest).toEqual(want);
    });
    await expect(optimizeSaliency(model, some, { hidePrompt: 'yes' as never })).rejects.toThrow(/hidePrompt must be a boolean/);
  });

  test('dependence and statistics, by hand', () => {
    const base = results[0];
    const r: SaliencyResult = { ...base, s: [0.9, 0.1, 0.9, 0.1], crucial: [0, 2], logpFull: -0.5, logpSuppressAll: -4 };
    expect(dependence(r)).toBeCloseTo(3.5, 12);
    const st = saliencyStats(r);
    expect(st.meanS).toBeCloseTo(0.5, 12);
    expect(st.fracCrucial).toBeCloseTo(0.5, 12);
    const p = [0.45, 0.05, 0.45, 0.05];
    const h = -p.reduce((a, v) => a + v * Math.log(v), 0) / Math.log(4);
    expect(st.entropy).toBeCloseTo(h, 10);
    expect(saliencyStats({ ...r, s: [0.5, 0.5], crucial: [] }).entropy).toBeCloseTo(1, 12);
  });
});

describe('optimizeSaliency contract', () => {
  test('ragged batches: the same result in one padded batch as one completion at a time', async () => {
    const rand = rng(3);
    const mixed = [makeCase(rand), makeCase(rand), makeCase(rand)];
    // Shorten the prompt of one case and lengthen the CoT of another, so the rows have different lengths.
    mixed[1] = { ...mixed[1], ids: mixed[1].ids.slice(2), cotStart: mixed[1].cotStart - 2, cotEnd: mixed[1].cotEnd - 2,
      answerStart: mixed[1].answerStart - 2, answerEnd: mixed[1].answerEnd - 2, matters: mixed[1].matters };
    mixed[1].ids[0] = 1;
    // And a row so short that its padding reaches past the other rows' prompts (the shared prompt prefix is all padding for it).
    const c = makeCase(rand);
    mixed.push({ ...c, ids: c.ids.slice(0, c.cotStart + 3), cotEnd: c.cotStart + 2, answerStart: c.cotStart + 2, answerEnd: c.cotStart + 3, matters: [] });
    expect(mixed[0].ids.length - mixed[3].ids.length).toBeGreaterThan(mixed[0].cotStart);
    const together = await optimizeSaliency(model, mixed, { steps: 5 });
    const alone: SaliencyResult[] = [];
    for (const c of mixed) alone.push(...(await optimizeSaliency(model, [c], { steps: 5, batchSize: 1 })));
    together.forEach((r, i) => {
      r.s.forEach((v, j) => expect(v).toBeCloseTo(alone[i].s[j], 3));
      expect(r.logpFull).toBeCloseTo(alone[i].logpFull, 3);
      expect(r.logpSuppressAll).toBeCloseTo(alone[i].logpSuppressAll, 3);
    });
  });

  test('weights get no gradient and keep their requiresGrad; per-layer masks have one row per layer', async () => {
    const dir = writeTinyLlama(path.join(os.tmpdir(), `atman-sal-${process.pid}`), { layers: 2, vocab: 40 });
    const m = await LlamaModel.load(dir);
    m.requiresGrad_(true);
    const c = makeCase(rng(5));
    let steps = 0;
    const [r] = await optimizeSaliency(m, [c], { steps: 3, perLayer: true, onStep: () => steps++ });
    expect(steps).toBe(3);
    expect(r.sPerLayer).toHaveLength(2);
    expect(r.sPerLayer![0]).toHaveLength(c.cotEnd - c.cotStart);
    r.s.forEach((v, j) => expect(v).toBeCloseTo((r.sPerLayer![0][j] + r.sPerLayer![1][j]) / 2, 6));
    for (const p of m.parameters()) {
      expect(p.requiresGrad).toBe(true);
      expect(p.grad).toBeNull();
      p.dispose();
    }
    m.dispose();
  });

  test('bad input is a clear error, not a crash', async () => {
    const c = cases[0];
    const err = async (batch: unknown, opts?: unknown) => {
      try {
        await optimizeSaliency(model, batch as never, opts as never);
      } catch (e) {
        return e as Error;
      }
      throw new Error('expected an error');
    };
    expect((await err([{ ...c, cotStart: 0 }])).message).toMatch(/cotStart/);
    expect((await err([{ ...c, answerEnd: c.ids.length + 1 }])).name).toBe('RangeError');
    expect((await err([{ ...c, ids: 'abc' }])).name).toBe('TypeError');
    expect((await err([c], { stepz: 3 })).message).toMatch(/unknown option 'stepz'/);
    expect((await err([c], { steps: -1 })).name).toBe('RangeError');
    expect((await err([c], { steps: 1.5 })).name).toBe('RangeError');
    expect((await err([c], { threshold: 1.5 })).name).toBe('RangeError');
    expect(await optimizeSaliency(model, [])).toEqual([]);
  });
});

test('what each reward mode reads: the mask, the prompt-hiding passes, the derived passes, the results pass, the unhinted prompt', () => {
  const reads = Object.fromEntries(REWARD_MODES.map((m) => [m, [rewardUsesMask, rewardHidesPrompt, rewardMeasuresDerived, rewardMeasuresResults, rewardReadsUnhinted].map((f) => (f(m) ? 1 : 0)).join('')]));
  expect(reads).toEqual({
    comprehensiveness: '10000', sufficiency: '10000', crucial: '10000', crucialSufficiency: '11000',
    cotSufficiency: '01000', cotCarried: '01000', cotAlone: '01000', cotDerived: '01100', cotUnhinted: '00011',
  });
});
