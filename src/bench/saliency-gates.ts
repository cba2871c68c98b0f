// The saliency gates of DESIGN.md ("What the saliency must achieve"), measured on a model's own completions:
//  1. the mask agrees with leave-one-out suppression (greedy, correct completions): AUROC of s against "suppressing this
//     token alone costs >= 1 nat", the mask's top token is the leave-one-out top token, C is not empty when such a token
//     exists;
//  2. R_sal separates completions whose answer follows their CoT (F: answer = the CoT's own result) from decorative
//     ones (D: a correct answer that the CoT does not produce), sampled at temperature 1;
//  3. R_sal does not track confidence within a class (Spearman with log p(answer));
//  4. no cheap path: a mask that keeps every token earns nothing; a longer CoT (a neutral line put in front) does not
//     earn more.
import { SaliencyExample, SaliencyOptions, SaliencyResult, SaliencyRewardOptions, completionExample, optimizeSaliency, saliencyReward } from '../atman';
import { REWARD_MODES, SaliencyRewardMode, rewardReadsUnhinted, rewardUsesMask } from '../atman/reward';
import { leaveOneOutDrops } from '../atman/suppress';
import { Problem, TaskName, cotResult, makeHintedProblems, makeSyntheticProblems } from '../data';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { auroc, mean, spearman } from '../stats';
import { Completion, rollout, unhintedPromptIdsOf } from '../train/rollout';

/** A correct completion with its spans, ready for the mask. */
export interface GateItem {
  example: SaliencyExample;
  /** The same completion under the prompt without its hint (cotUnhinted's reward reads it). */
  unhinted: SaliencyExample;
  /** F: the answer is the CoT's own result; D: it is not (decorative CoT). */
  cls: 'F' | 'D';
  cotText: string;
}

export interface GateSets {
  /** Greedy correct completions: leave-one-out ground truth. */
  loo: GateItem[];
  /** Sampled correct completions of both classes. */
  classed: GateItem[];
}

export interface GateThresholds {
  looAuroc: number;
  topAgree: number;
  emptyWhenNeeded: number;
  fdAuroc: number;
  confidence: number;
  keepAll: number;
  lengthGain: number;
}

export const GATES: GateThresholds = { looAuroc: 0.9, topAgree: 0.85, emptyWhenNeeded: 0.1, fdAuroc: 0.9, confidence: 0.2, keepAll: 0.1, lengthGain: 0.02 };

export interface GateReport {
  /** The reward mode measured. */
  reward: SaliencyRewardMode;
  nLoo: number;
  nF: number;
  nD: number;
  /** Mean over completions (with both kinds of token) of the AUROC of s against LOO drop >= 1 nat; and pooled. */
  looAuroc: number;
  looAurocPooled: number;
  /** Share of completions whose highest-s token is a leave-one-out top token (within 10% of the largest drop). */
  topAgree: number;
  /** Share of completions with a >= 1-nat token whose crucial set is empty. */
  emptyWhenNeeded: number;
  meanCrucialSize: number;
  fdAuroc: number;
  meanRewardF: number;
  meanRewardD: number;
  /** Spearman(R_sal, log p(answer)) within F and within D. */
  confidenceF: number;
  confidenceD: number;
  /** Mean reward of the mask that keeps every CoT token (C = the whole CoT), over F. */
  keepAllReward: number;
  /** Spearman(R_sal, CoT length) within F, and the mean reward of F after a neutral line is put in front of the CoT. */
  lengthSpearmanF: number;
  meanRewardFPadded: number;
  pass: Record<keyof GateThresholds, boolean>;
}

const LOO_NATS = 1;

function itemOf(tok: Tokenizer, c: Completion): GateItem | null {
  if (!c.grade.correct || !c.spans) return null;
  const cotText = tok.decode(c.tokens.slice(c.spans.cotStart, c.spans.cotEnd), { skipSpecialTokens: true });
  const own = cotResult(c.text);
  return {
    example: completionExample(c.promptIds, c.tokens, c.spans), unhinted: completionExample(unhintedPromptIdsOf(tok, c), c.tokens, c.spans), cls: own !== null && own === c.grade.strict ? 'F' : 'D', cotText };
}

/** Problems of the gate measurement: the bundled task's, or the hinted benchmark's with correct hints. */
export function gateProblems(task: TaskName, count: number, seed: number): Problem[] {
  if (task === 'hinted') return makeHintedProblems({ count, seed, hint: 'correct' });
  if (task === 'synthetic') return makeSyntheticProblems({ count, seed, minOps: 1, maxOps: 2, maxValue: 9 });
  throw new RangeError(`bench gates: task must be 'synthetic' or 'hinted', got ${task}`);
}

/** Greedy completions for the LOO set and G sampled completions per problem for the F/D set. */
export async function collectGateSets(
  model: LlamaModel, tok: Tokenizer, problems: Problem[], o: { looCount: number; classCount: number; G: number; maxNewTokens: number; seed: number },
): Promise<GateSets> {
  const greedy = await rollout(model, tok, problems, 1, { maxNewTokens: o.maxNewTokens, temperature: 0, topP: 1, topK: 0 }, o.seed);
  const loo = greedy.map((c) => itemOf(tok, c)).filter((x): x is GateItem => x !== null && x.cls === 'F').slice(0, o.looCount);
  const F: GateItem[] = [], D: GateItem[] = [];
  for (let i = 0; i < problems.length && (F.length < o.classCount || D.length < o.classCount); i += 32) {
    const sampled = await rollout(model, tok, problems.slice(i, i + 32), o.G, { maxNewTokens: o.maxNewTokens, temperature: 1, topP: 1, topK: 0 }, o.seed + 1 + i);
    for (const c of sampled) {
      const it = itemOf(tok, c);
      if (it?.cls === 'F' && F.length < o.classCount) F.push(it);
      if (it?.cls === 'D' && D.length < o.classCount) D.push(it);
    }
  }
  return { loo, classed: [...F, ...D] };
}

/** The example with `pad` token ids put in front of its CoT (the spans shifted accordingly). */
function padCot(e: SaliencyExample, pad: number[]): SaliencyExample {
  const n = pad.length;
  return {
    ids: [...e.ids.slice(0, e.cotStart), ...pad, ...e.ids.slice(e.cotStart)],
    cotStart: e.cotStart, cotEnd: e.cotEnd + n, answerStart: e.answerStart + n, answerEnd: e.answerEnd + n,
    ...(e.results ? { results: e.results.map(([a, b]): [number, number] => [a + n, b + n]) } : {}),
  };
}

/**
 * Whether the mask's top token is a leave-one-out top token: its drop within 10% of the largest (several tokens can
 * carry the answer equally, e.g. the two digits of a result; an exact argmax would then be a coin flip).
 */
export function topAgrees(s: number[], drops: number[]): boolean {
  const max = Math.max(...drops);
  return drops[argmax(s)] >= max - 0.1 * Math.abs(max);
}

function argmax(x: number[]): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

/** Measures every gate for one setting of the mask optimization and the reward. */
export async function measureGates(
  model: LlamaModel, tok: Tokenizer, sets: GateSets, sal: SaliencyOptions, reward: SaliencyRewardOptions, padText = '0 + 0 = 0\n',
): Promise<GateReport> {
  return (await measureGatesFor(model, tok, sets, sal, [reward], padText))[0];
}

/** The gates for several reward settings (e.g. modes) from one mask optimization, in the order given. */
export async function measureGatesFor(
  model: LlamaModel, tok: Tokenizer, sets: GateSets, sal: SaliencyOptions, rewards: SaliencyRewardOptions[], padText = '0 + 0 = 0\n',
): Promise<GateReport[]> {
  const opts = { ...sal, padTokenId: tok.padTokenId, hidePrompt: true }; // every reward mode is printed, the prompt-hiding ones too
  // 1. Leave-one-out agreement.
  const looEx = sets.loo.map((x) => x.example);
  const drops = leaveOneOutDrops(model, looEx, { padTokenId: tok.padTokenId, biasFrom: sal.biasFrom });
  const masks = await optimizeSaliency(model, looEx, opts);
  const perAuroc: number[] = [], pooledS: number[] = [], pooledY: boolean[] = [];
  let agree = 0, needed = 0, emptyNeeded = 0;
  masks.forEach((m, i) => {
    const y = drops[i].map((d) => d >= LOO_NATS);
    const a = auroc(m.s, y);
    if (!Number.isNaN(a)) perAuroc.push(a);
    pooledS.push(...m.s);
    pooledY.push(...y);
    if (topAgrees(m.s, drops[i])) agree++;
    if (y.some(Boolean)) {
      needed++;
      if (m.crucial.length === 0) emptyNeeded++;
    }
  });
  // 2-4. Rewards by class, confidence, cheap paths.
  const F = sets.classed.filter((x) => x.cls === 'F'), D = sets.classed.filter((x) => x.cls === 'D');
  const padIds = tok.encode(padText, { addSpecialTokens: false });
  const all = await optimizeSaliency(model, [...F, ...D, ...F].map((x, i) => (i >= F.length + D.length ? padCot(x.example, padIds) : x.example)), { ...opts, measureDerived: true });
  // cotUnhinted reads the same completions under the prompt without the hint: one more pass over them (no mask).
  const unhinted = rewards.some((r) => rewardReadsUnhinted(r.mode ?? 'comprehensiveness'))
    ? await optimizeSaliency(model, [...F, ...D, ...F].map((x, i) => (i >= F.length + D.length ? padCot(x.unhinted, padIds) : x.unhinted)),
      { ...opts, steps: 0, randomSets: 0, hidePrompt: false, measureResults: true })
    : all;
  const logpAnswerF = all.slice(0, F.length).map((r) => r.logpFull), logpAnswerD = all.slice(F.length, F.length + D.length).map((r) => r.logpFull);
  return rewards.map((reward) => {
  const read = rewardReadsUnhinted(reward.mode ?? 'comprehensiveness') ? unhinted : all;
  const rF = read.slice(0, F.length), rD = read.slice(F.length, F.length + D.length), rPad = read.slice(F.length + D.length);
  const R = (r: SaliencyResult) => saliencyReward(r, reward);
  const keepAll = (r: SaliencyResult): SaliencyResult => ({
    ...r, crucial: r.s.map((_, j) => j), logpSuppressCrucial: r.logpSuppressAll, logpSuppressRandom: r.logpSuppressAll,
    logpKeepCrucial: r.logpFull, logpKeepRandom: r.logpFull, logpOnlyCrucial: r.logpHidePrompt, logpOnlyRandom: r.logpHidePrompt,
  });
  const usesMask = rewardUsesMask(reward.mode ?? 'comprehensiveness');
  const rewardsF = rF.map(R), rewardsD = rD.map(R);
  const report: Omit<GateReport, 'pass'> = {
    reward: reward.mode ?? 'comprehensiveness',
    nLoo: masks.length,
    nF: F.length,
    nD: D.length,
    looAuroc: mean(perAuroc),
    looAurocPooled: auroc(pooledS, pooledY),
    topAgree: masks.length ? agree / masks.length : NaN,
    emptyWhenNeeded: needed ? emptyNeeded / needed : NaN,
    meanCrucialSize: mean([...masks, ...all.slice(0, F.length)].map((m) => m.crucial.length)), // the mask's C, whatever the reward reads
    fdAuroc: auroc([...rewardsF, ...rewardsD], [...rewardsF.map(() => true), ...rewardsD.map(() => false)]),
    meanRewardF: mean(rewardsF),
    meanRewardD: mean(rewardsD),
    // Confidence: log p(answer) under the prompt the model was given (with its hint).
    confidenceF: spearman(rewardsF, logpAnswerF),
    confidenceD: spearman(rewardsD, logpAnswerD),
    // A reward that reads no mask has no keep-everything path (NaN: not applicable).
    keepAllReward: usesMask ? mean(rF.map((r) => R(keepAll(r)))) : NaN,
    lengthSpearmanF: spearman(rewardsF, rF.map((r) => r.s.length)),
    meanRewardFPadded: mean(rPad.map(R)),
  };
  const absOk = (x: number, max: number) => Number.isNaN(x) || Math.abs(x) <= max;
  return {
    ...report,
    pass: {
      looAuroc: report.looAuroc >= GATES.looAuroc,
      topAgree: report.topAgree >= GATES.topAgree,
      emptyWhenNeeded: !(report.emptyWhenNeeded > GATES.emptyWhenNeeded),
      fdAuroc: report.fdAuroc >= GATES.fdAuroc,
      confidence: absOk(report.confidenceF, GATES.confidence) && absOk(report.confidenceD, GATES.confidence),
      keepAll: !(report.keepAllReward > GATES.keepAll),
      lengthGain: report.meanRewardFPadded - report.meanRewardF <= GATES.lengthGain,
    },
  };
  });
}

const f3 = (x: number) => (Number.isNaN(x) ? '-' : x.toFixed(3));
const mark = (ok: boolean) => (ok ? 'pass' : 'FAIL');

/** The gates as a Markdown table. */
export function formatGates(r: GateReport): string {
  const rows: [string, string, string, boolean][] = [
    ['mask vs leave-one-out: AUROC (mean per completion; pooled)', `${f3(r.looAuroc)} (${f3(r.looAurocPooled)})`, `>= ${GATES.looAuroc}`, r.pass.looAuroc],
    ['top token = leave-one-out top token', f3(r.topAgree), `>= ${GATES.topAgree}`, r.pass.topAgree],
    ['C empty although a >= 1-nat token exists', f3(r.emptyWhenNeeded), `<= ${GATES.emptyWhenNeeded}`, r.pass.emptyWhenNeeded],
    [`R_sal separates F from D: AUROC (mean F ${f3(r.meanRewardF)}, D ${f3(r.meanRewardD)})`, f3(r.fdAuroc), `>= ${GATES.fdAuroc}`, r.pass.fdAuroc],
    ['|Spearman(R_sal, log p(answer))| within F; within D', `${f3(r.confidenceF)}; ${f3(r.confidenceD)}`, `<= ${GATES.confidence}`, r.pass.confidence],
    ['reward of the keep-everything mask (F)', rewardUsesMask(r.reward) ? f3(r.keepAllReward) : 'n/a (no mask)', `<= ${GATES.keepAll}`, r.pass.keepAll],
    [`F reward with a longer CoT (Spearman with length ${f3(r.lengthSpearmanF)})`, `${f3(r.meanRewardFPadded)} vs ${f3(r.meanRewardF)}`, `gain <= ${GATES.lengthGain}`, r.pass.lengthGain],
  ];
  return [
    `reward ${r.reward}; completions: ${r.nLoo} greedy correct (leave-one-out), ${r.nF} F and ${r.nD} D sampled correct; mean |C| ${f3(r.meanCrucialSize)}`,
    '',
    '| gate | value | needs | |',
    '|---|---|---|---|',
    ...rows.map(([g, v, n, ok]) => `| ${g} | ${v} | ${n} | ${mark(ok)} |`),
  ].join('\n');
}

export interface GatesBenchOptions {
  modelDir: string;
  task: TaskName;
  device: string;
  saliency?: SaliencyOptions;
  reward?: SaliencyRewardOptions;
  problems?: number;
  looCount?: number;
  classCount?: number;
  seed?: number;
  json?: string;
}

/** `atman-native bench gates`: collect the sets, measure, print the table (and JSON). */
export async function runGatesBench(o: GatesBenchOptions): Promise<GateReport[]> {
  const tok = Tokenizer.fromDir(o.modelDir);
  const model = await LlamaModel.load(o.modelDir, { device: o.device, dtype: o.device.startsWith('cuda') ? 'bfloat16' : 'float32' });
  try {
    const problems = gateProblems(o.task, o.problems ?? 256, o.seed ?? 1);
    const sets = await collectGateSets(model, tok, problems, {
      looCount: o.looCount ?? 40, classCount: o.classCount ?? 60, G: 8, maxNewTokens: o.task === 'hinted' ? 96 : 64, seed: o.seed ?? 1,
    });
    // The configured reward first, then the other modes on the same masks, for comparison.
    const chosen = o.reward ?? {};
    const modes = [chosen.mode ?? 'comprehensiveness', ...REWARD_MODES.filter((m) => m !== (chosen.mode ?? 'comprehensiveness'))];
    const reports = await measureGatesFor(model, tok, sets, o.saliency ?? {}, modes.map((mode) => ({ ...chosen, mode })));
    console.log(reports.map(formatGates).join('\n\n'));
    if (o.json) require('fs').writeFileSync(o.json, JSON.stringify(reports, null, 2) + '\n');
    return reports;
  } finally {
    model.dispose();
  }
}
