// LlamaModel.generate on CPU: KV-cache decoding equals greedy decoding by full forwards (ragged prompts, left
// padding), shared prefill for several sequences per prompt, stop tokens, seeded sampling.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel } from '../src';
import { greedyByForward as greedy, writeTinyLlama } from './llama_helpers';

let root: string;
let model: LlamaModel;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-llama-gen-'));
  model = await LlamaModel.load(writeTinyLlama(path.join(root, 'm'), { seed: 5, llama3: true }));
});
afterAll(() => {
  model.dispose();
  fs.rmSync(root, { recursive: true, force: true });
});

const PROMPTS = [[5, 17, 250], [1, 2, 3, 4, 5, 6], [42]];

/** Greedy decoding of one prompt by full forwards (no cache, no padding). */
const greedyByForward = (prompt: number[], n: number): number[] => greedy(model, prompt, n);

test('greedy generation equals greedy decoding by full forwards, for ragged prompts in one batch', async () => {
  const r = await model.generate(PROMPTS, { maxNewTokens: 10, temperature: 0 });
  expect(r.tokens).toEqual(PROMPTS.map((p) => greedyByForward(p, 10)));
  expect(r.lengths).toEqual([10, 10, 10]);
  expect(r.finishReasons).toEqual(['length', 'length', 'length']);
});

test('numReturnSequences shares the prefill: greedy copies are identical', async () => {
  const one = await model.generate(PROMPTS, { maxNewTokens: 6, temperature: 0 });
  const three = await model.generate(PROMPTS, { maxNewTokens: 6, temperature: 0, numReturnSequences: 3 });
  expect(three.tokens).toEqual(one.tokens.flatMap((t) => [t, t, t]));
});

test('stop tokens end a sequence (the stop token included)', async () => {
  const free = await model.generate(PROMPTS, { maxNewTokens: 8, temperature: 0 });
  const stop = free.tokens[1][3];
  const r = await model.generate(PROMPTS, { maxNewTokens: 8, temperature: 0, stopTokenIds: [stop] });
  expect(r.tokens[1]).toEqual(free.tokens[1].slice(0, free.tokens[1].indexOf(stop) + 1));
  expect(r.finishReasons[1]).toBe('stop');
  for (const i of [0, 2]) {
    const at = free.tokens[i].indexOf(stop);
    expect(r.tokens[i]).toEqual(at < 0 ? free.tokens[i] : free.tokens[i].slice(0, at + 1));
  }
});

test('sampling is reproducible for a seed; topK 1 is greedy', async () => {
  const opts = { maxNewTokens: 12, temperature: 1.0, topP: 0.95, seed: 123, numReturnSequences: 2 };
  const a = await model.generate(PROMPTS, opts);
  const b = await model.generate(PROMPTS, opts);
  expect(a.tokens).toEqual(b.tokens);
  const c = await model.generate(PROMPTS, { ...opts, seed: 124 });
  expect(c.tokens).not.toEqual(a.tokens);
  const greedy = await model.generate(PROMPTS, { maxNewTokens: 5, temperature: 0 });
  const top1 = await model.generate(PROMPTS, { maxNewTokens: 5, temperature: 0.7, topK: 1, seed: 1 });
  expect(top1.tokens).toEqual(greedy.tokens);
  for (const row of a.tokens) for (const t of row) expect(t >= 0 && t < 300).toBe(true);
});

test('errors', async () => {
  await expect(model.generate([[1, 2], []])).rejects.toThrow(/prompt 1 is empty/);
  await expect(model.generate([[1, 300]])).rejects.toThrow(/token id 300, outside \[0, 300\)/);
  await expect(model.generate([[1]], { nope: 1 } as never)).rejects.toThrow(/unknown option 'nope'/);
  await expect(model.generate([[1]], { topP: 0 })).rejects.toThrow(/topP must be in \(0, 1\]/);
});
