// The `saliency` command: reads completions, optimizes an AtMan mask over each one's chain of thought, and writes
// the per-completion results (saliency.jsonl) and the heat-map view (saliency.html).
import * as fs from 'fs';
import * as path from 'path';

import { SaliencyExample, SaliencyResult, completionExample, dependence, optimizeSaliency, saliencyReward, saliencyStats } from '../atman';
import { Problem, TASK_NAMES, TaskName } from '../data/problem';
import { buildPromptIds } from '../data/prompts';
import { AnswerFinder, loadAnswerFinder } from '../data/answer-format';
import { grade } from '../data/grade';
import { readRecords } from '../data/records';
import { Spans, locateSpans } from '../data/spans';
import { sequenceLimit } from '../llm/families';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { createReporter } from '../log/reporter';
import { SaliencyItem, renderSaliencyHtml } from '../log/saliency-html';
import { saliencyItem } from '../log/saliency-item';
import { writeFileAtomic } from '../log/atomic';
import { SaliencyConfig, resolveSaliencyConfig } from '../config';
import { resolvePackagePath } from '../config/package-path';
import { resolveDevice } from '../train/device';
import { maskOptionsOf, rewardOptionsOf } from '../train/saliency-options';

export type PromptFormat = 'chat' | 'raw';

/** Not config: where the mask settings come from and where progress goes. */
export interface SaliencyRunOptions {
  /** A train run config whose saliency section the masks use (default: the config.yaml beside --input, else train's). */
  runConfig?: string;
  /** Where progress goes (default process.stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface SkippedRow {
  /** 1-based index of the row among the rows read. */
  row: number;
  id: string;
  reason: string;
}

export interface SaliencyCommandSummary {
  jsonl: string;
  html: string;
  /** Rows read from the input (after --limit). */
  rows: number;
  /** Rows optimized and written. */
  written: number;
  /** Rows left out (no parsable spans, bad fields); unreadable lines of the file are counted in `unreadable`. */
  skipped: SkippedRow[];
  unreadable: number;
}

/** One completion, ready for the mask optimization. */
interface Prepared {
  row: number;
  id: string;
  task: TaskName;
  promptText: string;
  promptIds: number[];
  completionIds: number[];
  spans: Spans;
  correct: boolean;
  predicted: string | null;
  gold: string | null;
}

/** A user-facing problem with one row: becomes a skip, never a crash. */
class RowError extends Error {}

function checkPaths(c: SaliencyConfig): void {
  const model = c.model.path;
  if (!fs.existsSync(model) || !fs.statSync(model).isDirectory())
    throw new Error(`--model ${model}: no such directory (give a Hugging Face Llama directory with config.json, the weights and the tokenizer files)`);
  if (!fs.existsSync(path.join(model, 'config.json')))
    throw new Error(`--model ${model}: config.json not found (is this a Hugging Face model directory?)`);
  if (!fs.existsSync(c.input)) throw new Error(`--input ${c.input}: file not found`);
  if (fs.existsSync(c.out) && !fs.statSync(c.out).isDirectory()) throw new Error(`--out ${c.out} exists and is not a directory`);
}

function tokenIds(value: unknown, field: string, vocab: number): number[] {
  if (!Array.isArray(value)) throw new RowError(`${field} must be an array of token ids`);
  value.forEach((v, i) => {
    if (!(Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) < vocab))
      throw new RowError(`${field}[${i}] = ${JSON.stringify(v)} is not a token id of this model (vocabulary ${vocab})`);
  });
  return value as number[];
}

function optionalText(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new RowError(`${field} must be a string`);
}

/** A row's id: its `id`, else the problem id train writes (`problem`), else its position. */
function rowId(rec: Record<string, unknown>, row: number): string {
  const id = rec.id ?? rec.problem;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : `row ${row}`;
}

/**
 * A row's prompt ids: prompt_ids as given; a raw prompt text as is; else the problem (question, task, hint, choices)
 * through buildPromptIds, the prompt builder train and eval sample from (same template, system prompt and date).
 */
export function rowPromptIds(rec: Record<string, unknown>, task: TaskName, id: string, tok: Tokenizer, format: PromptFormat, vocab: number): { ids: number[]; text?: string } {
  if (rec.prompt_ids !== undefined) return { ids: tokenIds(rec.prompt_ids, 'prompt_ids', vocab) };
  const text = optionalText(rec.prompt, 'prompt') ?? optionalText(rec.question, 'question');
  if (text === undefined) throw new RowError('needs question or prompt (text), or prompt_ids');
  if (format === 'raw' || tok.chatTemplate === null) return { ids: tok.encode(text, { addSpecialTokens: format !== 'raw' }), text };
  const choices = Array.isArray(rec.choices) ? rec.choices.map(String) : undefined;
  const hint = optionalText(rec.hint, 'hint');
  const problem: Problem = { id, task, question: text, gold: '', choices, ...(hint !== undefined ? { hint } : {}) };
  return { ids: buildPromptIds(tok, problem), text };
}

function prepareRow(
  rec: Record<string, unknown>, row: number, tok: Tokenizer, c: SaliencyConfig, vocab: number, maxLength: number, finder: AnswerFinder | undefined,
): Prepared | string {
  try {
    const id = rowId(rec, row);
    const taskField = rec.task ?? c.task ?? 'gsm8k';
    if (!TASK_NAMES.includes(taskField as TaskName)) throw new RowError(`task '${String(taskField)}' is not one of ${TASK_NAMES.join(', ')}`);
    const task = taskField as TaskName;

    const completionText = optionalText(rec.completion, 'completion');
    let completionIds: number[];
    if (rec.completion_ids !== undefined) completionIds = tokenIds(rec.completion_ids, 'completion_ids', vocab);
    else if (completionText !== undefined) completionIds = tok.encode(completionText, { addSpecialTokens: false });
    else throw new RowError('needs completion (text) or completion_ids');
    const text = completionText ?? tok.decode(completionIds, { skipSpecialTokens: true });

    const prompt = rowPromptIds(rec, task, id, tok, c.promptFormat, vocab);
    const promptIds = prompt.ids;
    if (promptIds.length === 0) throw new RowError('the prompt is empty (the chain of thought needs at least one token before it)');

    const spans = locateSpans(tok, completionIds, task, finder);
    if (spans === null) {
      const format = finder === undefined ? "'#### <answer>'" : `answer (${c.answerPattern !== null ? 'answerPattern' : 'answerExtractor'})`;
      throw new RowError(`no parsable ${format} after some reasoning in the completion`);
    }
    const total = promptIds.length + completionIds.length;
    if (total > maxLength) throw new RowError(`prompt + completion is ${total} tokens, more than the model's ${maxLength} positions`);

    const gold = optionalText(rec.gold, 'gold') ?? null;
    let correct: boolean;
    let predicted: string | null = null;
    if (gold !== null) {
      const g = grade(task, text, gold, finder);
      correct = g.correct;
      predicted = g.strict;
    } else if (typeof rec.correct === 'boolean') correct = rec.correct;
    else throw new RowError('needs gold (the correct answer) or a boolean correct');

    return { row, id, task, promptText: prompt.text ?? tok.decode(promptIds), promptIds, completionIds, spans, correct, predicted, gold };
  } catch (e) {
    if (e instanceof RowError) return e.message;
    return `cannot be read: ${(e as Error).message}`;
  }
}

function toExample(p: Prepared): SaliencyExample {
  return completionExample(p.promptIds, p.completionIds, p.spans);
}

const round = (v: number, digits = 6): number => (Number.isFinite(v) ? Number(v.toFixed(digits)) : v);

/** JSON cannot hold -Infinity/NaN: they are written as strings. */
const jsonNumbers = (_k: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);

function outputRow(p: Prepared, r: SaliencyResult, reward: number): Record<string, unknown> {
  const stats = saliencyStats(r);
  const out: Record<string, unknown> = {
    id: p.id,
    row: p.row,
    task: p.task,
    correct: p.correct,
    predicted: p.predicted,
    gold: p.gold,
    reward: round(reward),
    dependence: round(dependence(r)),
    stats: { meanS: round(stats.meanS), fracCrucial: round(stats.fracCrucial), entropy: round(stats.entropy) },
    s: r.s.map((v) => round(v)),
    crucial: r.crucial,
    threshold: r.threshold,
    logpFull: round(r.logpFull),
    logpSuppressCrucial: round(r.logpSuppressCrucial),
    logpSuppressAll: round(r.logpSuppressAll),
    lossCurve: r.lossCurve.map((v) => round(v)),
    spans: p.spans,
    completionTokens: p.completionIds.length,
  };
  if (r.sPerLayer) out.sPerLayer = r.sPerLayer.map((layer) => layer.map((v) => round(v)));
  return out;
}

function htmlItem(p: Prepared, r: SaliencyResult, reward: number, tok: Tokenizer): SaliencyItem {
  const tokens = p.completionIds.map((id) => tok.decode([id]));
  return saliencyItem({ id: p.id, prompt: p.promptText, tokens, spans: p.spans, result: r, reward, correct: p.correct });
}

/**
 * Runs the whole command. `config` holds the saliency command's fields ({ model, input, out, steps, ... }: the flags,
 * validated by its schema); throws Errors with actionable messages for bad arguments or files, and when no row could
 * be used (nothing is written then).
 */
export async function runSaliencyCommand(config: Record<string, unknown>, opts: SaliencyRunOptions = {}): Promise<SaliencyCommandSummary> {
  const resolved = resolveSaliencyConfig({ runConfig: opts.runConfig, overrides: config });
  const c: SaliencyConfig = { ...resolved, model: { ...resolved.model, path: resolvePackagePath(resolved.model.path) } };
  checkPaths(c);
  const stream = opts.stream ?? process.stderr;
  if (resolved.runConfig !== undefined) stream.write(`saliency: the mask and task of ${resolved.runConfig}\n`);
  const device = resolveDevice(c.device);
  const tok = Tokenizer.fromDir(c.model.path);
  const finder = await loadAnswerFinder(c);
  const read = await readRecords(c.input);
  const records = c.limit !== null ? read.rows.slice(0, c.limit) : read.rows;
  for (const err of read.errors) stream.write(`${c.input}:${err.row}: skipped: ${err.message}\n`);

  let model: LlamaModel;
  try {
    model = await LlamaModel.load(c.model.path, { device, dtype: c.model.dtype ?? undefined });
  } catch (e) {
    throw new Error(`cannot load the model from ${c.model.path}: ${(e as Error).message}`);
  }
  if (c.model.adapter !== null) {
    try {
      await model.loadAdapter(c.model.adapter);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }
  try {
    const vocab = model.config.vocabSize;
    const maxLength = sequenceLimit(model.config).tokens;
    const prepared: Prepared[] = [];
    const skipped: SkippedRow[] = [];
    records.forEach((rec, i) => {
      const isObject = rec !== null && typeof rec === 'object' && !Array.isArray(rec);
      const p = isObject ? prepareRow(rec, i + 1, tok, c, vocab, maxLength, finder) : 'is not an object';
      if (typeof p === 'string') {
        skipped.push({ row: i + 1, id: isObject ? rowId(rec, i + 1) : `row ${i + 1}`, reason: p });
        stream.write(`${c.input}: row ${i + 1}${isObject && rowId(rec, i + 1) !== `row ${i + 1}` ? ` (id ${rowId(rec, i + 1)})` : ''}: skipped: ${p}\n`);
      } else prepared.push(p);
    });
    if (prepared.length === 0) {
      const reasons = [...new Set(skipped.map((s) => s.reason))].slice(0, 3).join('; ');
      throw new Error(
        `saliency: no usable completion in ${c.input} (${records.length} row(s) read, ${skipped.length} skipped, ${read.skipped} unreadable line(s))` +
          (reasons ? `: ${reasons}` : '') + '; nothing written',
      );
    }

    const mask = maskOptionsOf({ ...c.saliency, enabled: true }, tok.padTokenId < vocab ? tok.padTokenId : 0);
    const steps = mask.steps!;
    const batchSize = mask.batchSize!;
    const chunks = Math.ceil(prepared.length / batchSize);
    const reporter = createReporter({ total: Math.max(1, chunks * steps), stream });
    reporter.log(
      `saliency: ${prepared.length} completions (${skipped.length} skipped), ${chunks} batch(es) of up to ${batchSize}, K = ${steps} steps`,
    );
    const started = Date.now();
    let results: SaliencyResult[];
    try {
      results = await optimizeSaliency(model, prepared.map(toExample), {
        ...mask,
        onStep: (done, total) => {
          reporter.update(done, {});
          if (steps > 0 && done % steps === 0) reporter.log(`saliency: batch ${done / steps}/${total / steps} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        },
      });
    } finally {
      reporter.stop();
    }

    const rows: Record<string, unknown>[] = [];
    const items: SaliencyItem[] = [];
    prepared.forEach((p, i) => {
      const reward = saliencyReward(results[i], { ...rewardOptionsOf({ ...c.saliency, enabled: true }), correct: p.correct });
      rows.push(outputRow(p, results[i], reward));
      items.push(htmlItem(p, results[i], reward, tok));
    });

    const jsonl = path.join(c.out, 'saliency.jsonl');
    const html = path.join(c.out, 'saliency.html');
    writeFileAtomic(jsonl, rows.map((r) => JSON.stringify(r, jsonNumbers)).join('\n') + '\n');
    writeFileAtomic(html, renderSaliencyHtml(items, { title: `AtMan saliency: ${path.basename(c.input)}` }));
    const unreadable = read.skipped;
    stream.write(
      `saliency: wrote ${rows.length} completions to ${jsonl} and ${html}` +
        (skipped.length + unreadable > 0 ? `; skipped ${skipped.length} row(s) without usable spans or fields and ${unreadable} unreadable line(s)` : '') +
        '\n',
    );
    return { jsonl, html, rows: records.length, written: rows.length, skipped, unreadable };
  } finally {
    model.dispose();
  }
}
