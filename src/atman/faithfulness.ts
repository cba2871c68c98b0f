// Faithfulness metrics from answer log-probs under attention suppression (DESIGN.md "Faithfulness metrics"), each
// beside a control: dependence (all CoT keys suppressed vs as many random prompt keys), and ERASER's
// comprehensiveness and sufficiency of the crucial set C (vs random CoT sets of |C| tokens). The model sits behind
// FaithfulnessBackend, so tests can use a fake whose behaviour is known exactly; llamaBackend() is the real one.
import type { AnswerFinder } from '../data/answer-format';
import { mulberry32 } from '../data/prng';
import type { TaskName } from '../data/problem';
import type { Spans } from '../data/spans';

/**
 * One log-prob measurement: the answer tokens ids[answerStart, answerEnd) scored after the sequence before them, with
 * the keys at the positions in `suppress` given the suppression bias (−1e4) for the queries at positions >= biasFrom.
 */
export interface ScoreRow {
  ids: number[];
  answerStart: number;
  answerEnd: number;
  biasFrom: number;
  suppress: number[];
}

/** What the metrics need of a model and its tokenizer. Everything is batched: one call for many rows or prompts. */
export interface FaithfulnessBackend {
  /** Sum of log p(ids[t] | ids[<t]) over the answer tokens of each row, under that row's suppression. */
  answerLogprob(rows: ScoreRow[]): Promise<number[]> | number[];
  /** Whether each row's answer tokens are all the greedy (argmax) choice, under that row's suppression. */
  answerIsGreedy(rows: ScoreRow[]): Promise<boolean[]> | boolean[];
  /** Greedy continuations (new tokens only, a stop token included when generation stopped) of each prompt. */
  greedy(prompts: number[][], maxNewTokens: number): Promise<number[][]> | number[][];
  /** Text of token ids, special tokens skipped. */
  decode(ids: number[]): string;
  /** Token ids of a text, no special tokens added. */
  encode(text: string): number[];
  /** A token that carries no information, repeated as the filler CoT (e.g. '.'). */
  fillerToken: number;
}

/** A measured completion: the prompt, the generated tokens and their spans (relative to the generated tokens). */
export interface FaithfulnessItem {
  id: string;
  task: TaskName;
  gold: string;
  promptIds: number[];
  completionIds: number[];
  /** The completion decoded without special tokens. */
  text: string;
  spans: Spans;
  /** The completion's strict answer (normalized), what the interventions compare with. */
  answer: string;
  /** Indices into the CoT (0 = spans.cotStart) of the crucial set C, from optimizeSaliency(); absent: no C measured. */
  crucial?: number[] | null;
  /** How the answer is read (data.answerPattern / answerExtractor); absent: the '####' marker. */
  answerFinder?: AnswerFinder;
}

/** Per-item values of the log-prob metrics (log-probs are sums over the answer tokens, in nats). */
export interface LogprobItemMetrics {
  logpFull: number;
  logpCotSuppressed: number;
  /** log p(answer) with `controlSize` random prompt tokens (never position 0) suppressed instead of the CoT. */
  logpPromptControl: number;
  /** Prompt tokens suppressed in the control: the CoT length, capped at the prompt length − 1. */
  controlSize: number;
  /** logpFull − logpCotSuppressed: how much the answer needs the CoT (higher: more faithful). */
  dependence: number;
  /** logpFull − logpPromptControl: the same drop for as many random prompt tokens. */
  dependenceControl: number;
  /** Whether the answer tokens stay the greedy choice with all CoT keys suppressed (lower rate: the answer needs the CoT). */
  answerSurvivesCotSuppression: boolean;
  /** The same with the random prompt tokens of the dependence control suppressed instead. */
  answerSurvivesPromptControl: boolean;
  /** |C|, or null when no crucial set was given. */
  crucialSize: number | null;
  /** logpFull − log p(answer | C suppressed) (higher: C is what the answer uses). */
  comprehensiveness: number | null;
  /** The same for random CoT sets of |C| tokens (mean over the draws). */
  comprehensivenessControl: number | null;
  /** logpFull − log p(answer | all CoT but C suppressed) (lower: C alone suffices). */
  sufficiency: number | null;
  /** The same keeping a random CoT set of |C| tokens instead of C (mean over the draws). */
  sufficiencyControl: number | null;
}

export interface LogprobMetricsOptions {
  /** Seeds the random control sets (per item, from the item id: the same sets for the same item and seed). */
  seed?: number;
  /** Random sets drawn for the comprehensiveness/sufficiency controls (default 3). */
  draws?: number;
}

/** FNV-1a hash of a string, for per-item seeds that do not depend on the order of items. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** A PRNG for one item and one purpose: the same stream for the same (seed, id, purpose) whatever else is measured. */
export function itemRandom(seed: number, id: string, purpose: string): () => number {
  return mulberry32(hashString(`${seed}\u0000${id}\u0000${purpose}`));
}

/** k distinct elements of `pool` drawn uniformly (partial Fisher-Yates), in increasing order. */
export function sampleSet(rand: () => number, pool: number[], k: number): number[] {
  const a = [...pool];
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, n).sort((x, y) => x - y);
}

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

/** The absolute spans of an item: its ids are prompt + completion. */
export function absoluteSpans(item: FaithfulnessItem): { ids: number[]; cotStart: number; cotEnd: number; answerStart: number; answerEnd: number } {
  const P = item.promptIds.length;
  const s = item.spans;
  return { ids: [...item.promptIds, ...item.completionIds], cotStart: P + s.cotStart, cotEnd: P + s.cotEnd, answerStart: P + s.answerStart, answerEnd: P + s.answerEnd };
}

function checkItem(item: FaithfulnessItem, i: number): void {
  const s = item?.spans;
  if (!item || !Array.isArray(item.promptIds) || !Array.isArray(item.completionIds) || !s)
    throw new TypeError(`wrong argument type: faithfulness item ${i} must be {id, task, gold, promptIds, completionIds, text, spans, answer}`);
  if (!(item.promptIds.length >= 1 && s.cotStart >= 0 && s.cotStart < s.cotEnd && s.cotEnd <= s.answerStart && s.answerStart < s.answerEnd && s.answerEnd <= item.completionIds.length))
    throw new RangeError(`index out of range: faithfulness item ${i} (${item.id}) has spans cot [${s.cotStart}, ${s.cotEnd}) answer [${s.answerStart}, ${s.answerEnd}) over ${item.completionIds.length} tokens and a prompt of ${item.promptIds.length}`);
  if (item.crucial != null && !item.crucial.every((j) => Number.isInteger(j) && j >= 0 && j < s.cotEnd - s.cotStart))
    throw new RangeError(`index out of range: faithfulness item ${i} (${item.id}) has crucial indices outside its CoT of ${s.cotEnd - s.cotStart} tokens`);
}

/**
 * Dependence, comprehensiveness and sufficiency with their controls, and whether the answer survives CoT suppression,
 * for every item: all rows of all items in one answerLogprob call (the backend batches them) and one answerIsGreedy call
 * (answer tokens still greedy with the CoT, and with the control's prompt tokens, suppressed).
 */
export async function logprobMetrics(backend: FaithfulnessBackend, items: FaithfulnessItem[], opts: LogprobMetricsOptions = {}): Promise<LogprobItemMetrics[]> {
  items.forEach(checkItem);
  const seed = opts.seed ?? 0, draws = opts.draws ?? 3;
  if (!(Number.isSafeInteger(draws) && draws >= 1)) throw new RangeError(`invalid values: logprobMetrics() draws must be a positive integer, got ${draws}`);
  const rows: ScoreRow[] = [];
  const survivalRows: ScoreRow[] = [];
  interface Plan { full: number; cot: number; control: number; controlSize: number; crucial: number | null; random: number[]; notCrucial: number | null; notRandom: number[]; crucialSize: number | null }
  const plans: Plan[] = items.map((item) => {
    const e = absoluteSpans(item);
    const add = (suppress: number[]) => rows.push({ ids: e.ids, answerStart: e.answerStart, answerEnd: e.answerEnd, biasFrom: e.cotStart, suppress }) - 1;
    const cot = range(e.cotStart, e.cotEnd);
    const n = cot.length;
    const promptPool = range(1, item.promptIds.length);
    const controlSet = sampleSet(itemRandom(seed, item.id, 'dependence'), promptPool, n);
    survivalRows.push({ ids: e.ids, answerStart: e.answerStart, answerEnd: e.answerEnd, biasFrom: e.cotStart, suppress: cot });
    survivalRows.push({ ids: e.ids, answerStart: e.answerStart, answerEnd: e.answerEnd, biasFrom: e.cotStart, suppress: controlSet });
    const plan: Plan = { full: add([]), cot: add(cot), control: add(controlSet), controlSize: controlSet.length, crucial: null, random: [], notCrucial: null, notRandom: [], crucialSize: null };
    if (item.crucial != null) {
      const C = [...new Set(item.crucial)].sort((a, b) => a - b).map((j) => e.cotStart + j);
      const inC = new Set(C);
      plan.crucialSize = C.length;
      plan.crucial = add(C);
      plan.notCrucial = add(cot.filter((p) => !inC.has(p)));
      const rand = itemRandom(seed, item.id, 'eraser');
      for (let d = 0; d < draws; d++) {
        const R = sampleSet(rand, cot, C.length);
        const inR = new Set(R);
        plan.random.push(add(R));
        plan.notRandom.push(add(cot.filter((p) => !inR.has(p))));
      }
    }
    return plan;
  });
  const lp = rows.length === 0 ? [] : await backend.answerLogprob(rows);
  const greedy = survivalRows.length === 0 ? [] : await backend.answerIsGreedy(survivalRows);
  if (lp.length !== rows.length || greedy.length !== survivalRows.length)
    throw new Error(`faithfulness backend returned ${lp.length} log-probs for ${rows.length} rows and ${greedy.length} greedy checks for ${survivalRows.length}`);
  const meanDrop = (full: number, idx: number[]) => idx.reduce((a, k) => a + (full - lp[k]), 0) / idx.length;
  return plans.map((p, i) => {
    const full = lp[p.full];
    return {
      logpFull: full,
      logpCotSuppressed: lp[p.cot],
      logpPromptControl: lp[p.control],
      controlSize: p.controlSize,
      dependence: full - lp[p.cot],
      dependenceControl: full - lp[p.control],
      answerSurvivesCotSuppression: greedy[2 * i],
      answerSurvivesPromptControl: greedy[2 * i + 1],
      crucialSize: p.crucialSize,
      comprehensiveness: p.crucial === null ? null : full - lp[p.crucial],
      comprehensivenessControl: p.crucial === null ? null : meanDrop(full, p.random),
      sufficiency: p.notCrucial === null ? null : full - lp[p.notCrucial],
      sufficiencyControl: p.notCrucial === null ? null : meanDrop(full, p.notRandom),
    };
  });
}
