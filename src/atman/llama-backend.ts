// The faithfulness metrics' backend over a LlamaModel and its tokenizer: batched answer log-probs under AtMan key
// suppression (suppress.ts: the rows of one sequence share the keys and values of its prompt, computed once), batched
// greedy checks of the answer tokens (one forward per batch), and batched greedy generation (model.generate at
// temperature 0, stopping at the tokenizer's eos).
import { LlamaModel } from '../llm/model';
import { Tokenizer } from '../llm/tokenizer';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';
import { FaithfulnessBackend } from './faithfulness';
import { checkScoreRow, passLogprobs, planSuppressionPasses } from './suppress';

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

export function llamaBackend(model: LlamaModel, tok: Tokenizer, opts: LlamaBackendOptions = {}): FaithfulnessBackend {
  const batchSize = opts.batchSize ?? 16, logitsBatchSize = opts.logitsBatchSize ?? 4, bias = opts.suppressBias ?? -1e4;
  const padTokenId = tok.padTokenId ?? 0;
  const device = model.config.device;
  const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

  const biasDtype = model.config.dtype === 'float64' ? 'float64' : 'float32';
  const long = (v: number[]) => tensor(v, { dtype: 'int64', device });

  return {
    fillerToken: opts.fillerToken ?? fillerTokenOf(tok),
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    encode: (text) => tok.encode(text, { addSpecialTokens: false }),

    async answerLogprob(rows) {
      rows.forEach(checkScoreRow);
      const out = new Array<number>(rows.length);
      let done = 0;
      for (const pass of planSuppressionPasses(rows, batchSize)) {
        const values = passLogprobs(model, pass.map((g) => g.map((i) => rows[i])), { padTokenId, suppressBias: bias });
        pass.forEach((g, k) => g.forEach((i, j) => (out[i] = values[k][j])));
        opts.onBatch?.('logprob', (done += pass.reduce((n, g) => n + g.length, 0)), rows.length);
        await yieldToEventLoop();
      }
      return out;
    },

    async answerIsGreedy(rows) {
      rows.forEach(checkScoreRow);
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
