// The `saliency` command: reads completions, optimizes an AtMan mask over each one's chain of thought, and writes
// the per-completion results (saliency.jsonl) and the heat-map view (saliency.html).
import * as fs from 'fs';
import * as path from 'path';

import { SaliencyExample, SaliencyResult, completionExample, dependence, optimizeSaliency, saliencyReward, saliencyStats } from '../atman';
import { Problem, TASK_NAMES, TaskName } from '../data/problem';
import { buildPromptIds } from '../data/prompts';
import { grade } from '../data/grade';
import { readRecords } from '../data/records';
import { Spans, locateSpans } from '../data/spans';
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { createReporter } from '../log/reporter';
import { SaliencyItem, renderSaliencyHtml } from '../log/saliency-html';
import { saliencyItem } from '../log/saliency-item';
import { writeFileAtomic } from '../log/atomic';
import { Dtype, isFloatingDtype, isDtype } from '../tensor/dtype';

export type PromptFormat = 'chat' | 'raw';

export interface SaliencyCommandOptions {
  /** Hugging Face Llama directory: config.json, weights, tokenizer.json, tokenizer_config.json. */
  model: string;
  /** Completions file (.jsonl, .json, .csv or .parquet). */
  input: string;
  /** Output directory (created if missing). */
  out: string;
  device?: string;
  /** Weights' dtype in memory (default: as on disk). */
  dtype?: string;
  /** Task of rows without a `task` field (default 'gsm8k'). */
  task?: string;
  /** 'chat': a `prompt` string is the question, rendered with the chat template and the task's system prompt; 'raw': it is the full prompt text. */
  promptFormat?: PromptFormat;
  steps?: number;
  lr?: number;
  lambda?: number;
  threshold?: number;
  tau?: number;
  perLayer?: boolean;
  batchSize?: number;
  /** Only the first `limit` rows. */
  limit?: number;
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

function checkOptions(o: SaliencyCommandOptions): void {
  for (const [flag, value] of [['--model', o.model], ['--input', o.input], ['--out', o.out]] as const)
    if (typeof value !== 'string' || value === '') throw new Error(`saliency needs ${flag}`);
  if (!fs.existsSync(o.model) || !fs.statSync(o.model).isDirectory())
    throw new Error(`--model ${o.model}: no such directory (give a Hugging Face Llama directory with config.json, the weights and the tokenizer files)`);
  if (!fs.existsSync(path.join(o.model, 'config.json')))
    throw new Error(`--model ${o.model}: config.json not found (is this a Hugging Face model directory?)`);
  if (!fs.existsSync(o.input)) throw new Error(`--input ${o.input}: file not found`);
  if (fs.existsSync(o.out) && !fs.statSync(o.out).isDirectory()) throw new Error(`--out ${o.out} exists and is not a directory`);
  if (o.task !== undefined && !TASK_NAMES.includes(o.task as TaskName)) throw new Error(`--task must be one of ${TASK_NAMES.join(', ')}, got '${o.task}'`);
  if (o.dtype !== undefined && !(isDtype(o.dtype) && isFloatingDtype(o.dtype)))
    throw new Error(`--dtype must be float32, bfloat16, float16 or float64, got '${o.dtype}'`);
  if (o.promptFormat !== undefined && o.promptFormat !== 'chat' && o.promptFormat !== 'raw')
    throw new Error(`--prompt-format must be 'chat' or 'raw', got '${String(o.promptFormat)}'`);
  const positive = (flag: string, v: number | undefined, integer: boolean) => {
    if (v !== undefined && !(typeof v === 'number' && (integer ? Number.isSafeInteger(v) : Number.isFinite(v)) && v > 0))
      throw new Error(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got ${String(v)}`);
  };
  positive('--steps', o.steps, true);
  positive('--batch-size', o.batchSize, true);
  positive('--limit', o.limit, true);
  positive('--lr', o.lr, false);
  positive('--tau', o.tau, false);
  if (o.lambda !== undefined && !(typeof o.lambda === 'number' && Number.isFinite(o.lambda) && o.lambda >= 0))
    throw new Error(`--lambda must be a number >= 0, got ${String(o.lambda)}`);
  if (o.threshold !== undefined && !(typeof o.threshold === 'number' && o.threshold > 0 && o.threshold < 1))
    throw new Error(`--threshold must be between 0 and 1 (exclusive), got ${String(o.threshold)}`);
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

function rowId(rec: Record<string, unknown>, row: number): string {
  const id = rec.id;
  return typeof id === 'string' || typeof id === 'number' ? String(id) : `row ${row}`;
}

function prepareRow(
  rec: Record<string, unknown>, row: number, tok: Tokenizer, o: SaliencyCommandOptions, vocab: number, maxLength: number,
): Prepared | string {
  try {
    const id = rowId(rec, row);
    const taskField = rec.task ?? o.task ?? 'gsm8k';
    if (!TASK_NAMES.includes(taskField as TaskName)) throw new RowError(`task '${String(taskField)}' is not one of ${TASK_NAMES.join(', ')}`);
    const task = taskField as TaskName;

    const completionText = optionalText(rec.completion, 'completion');
    let completionIds: number[];
    if (rec.completion_ids !== undefined) completionIds = tokenIds(rec.completion_ids, 'completion_ids', vocab);
    else if (completionText !== undefined) completionIds = tok.encode(completionText, { addSpecialTokens: false });
    else throw new RowError('needs completion (text) or completion_ids');
    const text = completionText ?? tok.decode(completionIds, { skipSpecialTokens: true });

    const promptText = optionalText(rec.prompt, 'prompt');
    let promptIds: number[];
    if (rec.prompt_ids !== undefined) promptIds = tokenIds(rec.prompt_ids, 'prompt_ids', vocab);
    else if (promptText === undefined) throw new RowError('needs prompt (text) or prompt_ids');
    else if (o.promptFormat === 'raw' || tok.chatTemplate === null) promptIds = tok.encode(promptText, { addSpecialTokens: o.promptFormat !== 'raw' });
    else {
      const choices = Array.isArray(rec.choices) ? rec.choices.map(String) : undefined;
      const problem: Problem = { id, task, question: promptText, gold: '', choices };
      promptIds = buildPromptIds(tok, problem);
    }
    if (promptIds.length === 0) throw new RowError('the prompt is empty (the chain of thought needs at least one token before it)');

    const spans = locateSpans(tok, completionIds, task);
    if (spans === null) throw new RowError("no parsable '#### <answer>' after some reasoning in the completion");
    const total = promptIds.length + completionIds.length;
    if (total > maxLength) throw new RowError(`prompt + completion is ${total} tokens, more than the model's ${maxLength} positions`);

    const gold = optionalText(rec.gold, 'gold') ?? null;
    let correct: boolean;
    let predicted: string | null = null;
    if (gold !== null) {
      const g = grade(task, text, gold);
      correct = g.correct;
      predicted = g.strict;
    } else if (typeof rec.correct === 'boolean') correct = rec.correct;
    else throw new RowError('needs gold (the correct answer) or a boolean correct');

    return { row, id, task, promptText: promptText ?? tok.decode(promptIds), promptIds, completionIds, spans, correct, predicted, gold };
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

/** Runs the whole command; throws Errors with actionable messages for bad arguments or files. */
export async function runSaliencyCommand(o: SaliencyCommandOptions): Promise<SaliencyCommandSummary> {
  checkOptions(o);
  const stream = o.stream ?? process.stderr;
  const tok = Tokenizer.fromDir(o.model);
  const read = await readRecords(o.input);
  const records = o.limit !== undefined ? read.rows.slice(0, o.limit) : read.rows;
  for (const err of read.errors) stream.write(`${o.input}:${err.row}: skipped: ${err.message}\n`);

  let model: LlamaModel;
  try {
    model = await LlamaModel.load(o.model, { device: o.device ?? 'cpu', dtype: o.dtype as Dtype | undefined });
  } catch (e) {
    throw new Error(`cannot load the model from ${o.model}: ${(e as Error).message}`);
  }
  try {
    const vocab = model.config.vocabSize;
    const maxLength = model.config.maxPositionEmbeddings > 0 ? model.config.maxPositionEmbeddings : Infinity;
    const prepared: Prepared[] = [];
    const skipped: SkippedRow[] = [];
    records.forEach((rec, i) => {
      const isObject = rec !== null && typeof rec === 'object' && !Array.isArray(rec);
      const p = isObject ? prepareRow(rec, i + 1, tok, o, vocab, maxLength) : 'is not an object';
      if (typeof p === 'string') {
        skipped.push({ row: i + 1, id: isObject ? rowId(rec, i + 1) : `row ${i + 1}`, reason: p });
        stream.write(`${o.input}: row ${i + 1}${isObject && rec.id !== undefined ? ` (id ${String(rec.id)})` : ''}: skipped: ${p}\n`);
      } else prepared.push(p);
    });

    const steps = o.steps ?? 30;
    const batchSize = o.batchSize ?? 16;
    const chunks = Math.ceil(prepared.length / batchSize);
    const reporter = createReporter({ total: Math.max(1, chunks * steps), stream });
    reporter.log(
      `saliency: ${prepared.length} completions (${skipped.length} skipped), ${chunks} batch(es) of up to ${batchSize}, K = ${steps} steps`,
    );
    const started = Date.now();
    let results: SaliencyResult[];
    try {
      // Only the options given: an undefined value would override optimizeSaliency's default.
      const given = Object.fromEntries(
        Object.entries({ lr: o.lr, lambda: o.lambda, threshold: o.threshold, perLayer: o.perLayer }).filter(([, v]) => v !== undefined),
      );
      results = await optimizeSaliency(model, prepared.map(toExample), {
        ...given,
        steps,
        batchSize,
        padTokenId: tok.padTokenId < vocab ? tok.padTokenId : 0,
        onStep: (done, total) => {
          reporter.update(done, {});
          if (done % steps === 0) reporter.log(`saliency: batch ${done / steps}/${total / steps} done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        },
      });
    } finally {
      reporter.stop();
    }

    const rows: Record<string, unknown>[] = [];
    const items: SaliencyItem[] = [];
    prepared.forEach((p, i) => {
      const reward = saliencyReward(results[i], { tau: o.tau ?? 2, correct: p.correct });
      rows.push(outputRow(p, results[i], reward));
      items.push(htmlItem(p, results[i], reward, tok));
    });

    const jsonl = path.join(o.out, 'saliency.jsonl');
    const html = path.join(o.out, 'saliency.html');
    writeFileAtomic(jsonl, rows.map((r) => JSON.stringify(r, jsonNumbers)).join('\n') + (rows.length > 0 ? '\n' : ''));
    writeFileAtomic(html, renderSaliencyHtml(items, { title: `AtMan saliency: ${path.basename(o.input)}` }));
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
