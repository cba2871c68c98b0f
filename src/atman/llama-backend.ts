// The faithfulness metrics' backend over a LlamaModel and its tokenizer: batched answer log-probs under AtMan key
// suppression (one chunked tokenLogprobs pass per batch of rows; the rows of one sequence share the keys and values of
// its prompt, computed once), batched greedy checks of the answer tokens (one
// forward per batch), and batched greedy generation (model.generate at temperature 0, stopping at the tokenizer's eos).
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { FaithfulnessBackend, ScoreRow } from './faithfulness';

export interface LlamaBackendOptions {
  /** Rows per log-prob pass and prompts per generate call (default 16). */
  batchSize?: number;
  /** Rows per greedy check (a forward that holds [rows, T, vocab] logits; default 4). */
  logitsBatchSize?: number;
  /** Bias of a suppressed key (default −1e4). */
  suppressBias?: number;
  /** The filler token (default: fillerTokenOf(tok)). */
  fillerToken?: number;
  /** Called after each batch: what ran, and how many of that call's rows/prompts are done. */
  onBatch?: (kind: 'logprob' | 'greedy-check' | 'generate', done: number, total: number) => void;
}

/** The first of ' .', '.', ' -', '-' that the tokenizer encodes as one token (else the first token of '.'). */
export function fillerTokenOf(tok: Tokenizer): number {
  for (const text of [' .', '.', ' -', '-']) {
    const ids = tok.encode(text, { addSpecialTokens: false });
    if (ids.length === 1) return ids[0];
  }
  return tok.encode('.', { addSpecialTokens: false })[0];
}

/** Row indices in chunks of `size`, longest first (similar lengths together: less padding). */
function chunksByLength(lengths: number[], size: number): number[][] {
  const order = lengths.map((_, i) => i).sort((a, b) => lengths[b] - lengths[a]);
  const out: number[][] = [];
  for (let i = 0; i < order.length; i += size) out.push(order.slice(i, i + size));
  return out;
}

function checkRow(r: ScoreRow, i: number): void {
  if (!(r && Array.isArray(r.ids) && Number.isInteger(r.answerStart) && Number.isInteger(r.answerEnd) && 1 <= r.answerStart &&
    r.answerStart < r.answerEnd && r.answerEnd <= r.ids.length && Number.isInteger(r.biasFrom) && r.biasFrom >= 0 && Array.isArray(r.suppress)))
    throw new RangeError(`index out of range: score row ${i} needs 1 <= answerStart < answerEnd <= ids.length and biasFrom >= 0`);
  for (const p of r.suppress)
    if (!(Number.isInteger(p) && p >= 0 && p < r.answerStart)) throw new RangeError(`index out of range: score row ${i} suppresses position ${p} outside [0, ${r.answerStart})`);
}

export function llamaBackend(model: LlamaModel, tok: Tokenizer, opts: LlamaBackendOptions = {}): FaithfulnessBackend {
  const batchSize = opts.batchSize ?? 16, logitsBatchSize = opts.logitsBatchSize ?? 4, bias = opts.suppressBias ?? -1e4;
  const padTokenId = tok.padTokenId ?? 0;
  const device = model.config.device;
  const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

  const biasDtype = model.config.dtype === 'float64' ? 'float64' : 'float32';
  const long = (v: number[]) => tensor(v, { dtype: 'int64', device });

  /**
   * Answer log-probs of groups of rows, each group one sequence (cut at its answer end) under several suppressions:
   * sequences left-padded to end at T, the prefix before the earliest biased query run once per sequence.
   */
  const passLogprobs = (groups: ScoreRow[][]): number[][] => {
    const G = groups.length, T = Math.max(...groups.map((g) => g[0].answerEnd));
    const padG = groups.map((g) => T - g[0].answerEnd);
    const seqs = new Array<number>(G * T).fill(padTokenId);
    groups.forEach((g, k) => g[0].ids.slice(0, g[0].answerEnd).forEach((t, j) => (seqs[k * T + padG[k] + j] = t)));
    const rowGroup = groups.flatMap((g, k) => g.map(() => k));
    const flatRows = groups.flat();
    const B = flatRows.length;
    const pad = rowGroup.map((k) => padG[k]);
    const keyBias = new Float32Array(B * T);
    flatRows.forEach((r, b) => r.suppress.forEach((j) => (keyBias[b * T + pad[b] + j] = bias)));
    const P = Math.min(...groups.map((g, k) => padG[k] + g[0].biasFrom));
    const ids = tensor(seqs, { dtype: 'int64', device, shape: [G, T] });
    const index = long(rowGroup);
    let past;
    if (P > 0) {
      const p = model.prefix(ids.narrow(1, 0, P), { keyStart: long(padG) });
      past = { keys: p.keys.indexSelect(1, index), values: p.values.indexSelect(1, index) };
    }
    const lp = model.tokenLogprobs(ids.indexSelect(0, index).narrow(1, P, T - P), {
      keyBias: tensor(keyBias, { device, shape: [B, T] }).to({ dtype: biasDtype }),
      biasQueryStart: long(flatRows.map((r, b) => pad[b] + r.biasFrom)),
      keyStart: long(pad),
      targetStart: long(flatRows.map((r, b) => pad[b] + r.answerStart - P)),
      past,
    });
    // Every row ends at its answer's end, and positions before targetStart are 0: the row sum is the answer's.
    const sums = lp.sum(-1).toArray() as number[];
    let b = 0;
    return groups.map((g) => g.map(() => Number(sums[b++])));
  };

  return {
    fillerToken: opts.fillerToken ?? fillerTokenOf(tok),
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    encode: (text) => tok.encode(text, { addSpecialTokens: false }),

    async answerLogprob(rows) {
      rows.forEach(checkRow);
      const out = new Array<number>(rows.length);
      // Rows that score the same sequence (the same ids array up to the same answer: one item's measurements) share
      // the keys and values of everything before the bias acts, computed once per sequence (model.prefix).
      const groups: number[][] = [];
      const byIds = new Map<number[], Map<string, number>>();
      rows.forEach((r, i) => {
        const key = `${r.biasFrom}:${r.answerStart}:${r.answerEnd}`;
        let m = byIds.get(r.ids);
        if (!m) byIds.set(r.ids, (m = new Map()));
        let g = m.get(key);
        if (g === undefined) m.set(key, (g = groups.push([]) - 1));
        groups[g].push(i);
      });
      const rowsPerPass = Math.max(batchSize, ...groups.map((g) => g.length));
      const order = groups.map((_, g) => g).sort((a, b) => rows[groups[b][0]].answerEnd - rows[groups[a][0]].answerEnd);
      const passes: number[][] = [];
      for (const g of order) {
        const last = passes[passes.length - 1];
        if (last && last.reduce((n, h) => n + groups[h].length, 0) + groups[g].length <= rowsPerPass) last.push(g);
        else passes.push([g]);
      }
      let done = 0;
      for (const pass of passes) {
        const values = noGrad(() => tidy(() => passLogprobs(pass.map((g) => groups[g].map((i) => rows[i])))));
        pass.forEach((g, k) => groups[g].forEach((i, j) => (out[i] = values[k][j])));
        opts.onBatch?.('logprob', (done += pass.reduce((n, g) => n + groups[g].length, 0)), rows.length);
        await yieldToEventLoop();
      }
      return out;
    },

    async answerIsGreedy(rows) {
      rows.forEach(checkRow);
      const out = new Array<boolean>(rows.length);
      let done = 0;
      for (const chunk of chunksByLength(rows.map((r) => r.answerEnd), logitsBatchSize)) {
        // Rows left-padded and cut at answerEnd, so every answer ends at T: the last A positions' logits are all it needs.
        const T = Math.max(...chunk.map((k) => rows[k].answerEnd));
        const A = Math.max(...chunk.map((k) => rows[k].answerEnd - rows[k].answerStart));
        const B = chunk.length;
        const ids = new Array<number>(B * T).fill(padTokenId), keyBias = new Float32Array(B * T), pad: number[] = [];
        chunk.forEach((k, b) => {
          const r = rows[k], p = T - r.answerEnd;
          pad.push(p);
          for (let j = 0; j < r.answerEnd; j++) ids[b * T + p + j] = r.ids[j];
          for (const j of r.suppress) keyBias[b * T + p + j] = bias;
        });
        const pred = noGrad(() => tidy(() => {
          const logits = model.forward(tensor(ids, { dtype: 'int64', device, shape: [B, T] }), {
            keyBias: tensor(keyBias, { device, shape: [B, T] }).to({ dtype: biasDtype }),
            biasQueryStart: long(chunk.map((k, b) => pad[b] + rows[k].biasFrom)),
            keyStart: long(pad),
          });
          return logits.narrow(1, T - 1 - A, A).argmax(-1).toArray() as number[][];
        }));
        chunk.forEach((k, b) => {
          const r = rows[k], len = r.answerEnd - r.answerStart;
          out[k] = pred[b].slice(A - len).every((t, j) => Number(t) === r.ids[r.answerStart + j]);
        });
        opts.onBatch?.('greedy-check', (done += B), rows.length);
        await yieldToEventLoop();
      }
      return out;
    },

    async greedy(prompts, maxNewTokens) {
      const out = new Array<number[]>(prompts.length);
      let done = 0;
      for (const chunk of chunksByLength(prompts.map((p) => p.length), batchSize)) {
        const r = await model.generate(chunk.map((k) => prompts[k]), {
          maxNewTokens, temperature: 0, stopTokenIds: [...tok.eosTokenIds], padTokenId,
        });
        chunk.forEach((k, i) => (out[k] = r.tokens[i]));
        opts.onBatch?.('generate', (done += chunk.length), prompts.length);
      }
      return out;
    },
  };
}
