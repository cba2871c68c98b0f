// One config schema and validation layer for every command: train, sft, eval and saliency take dotted, kebab-case
// and short flags alike, reject bad numbers before any work, suggest near names (never an unrelated one), and train's
// config files layer over the bundled default.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import {
  ConfigError, editDistance, helpFields, resolveEvalConfig, resolveSaliencyConfig, resolveSftConfig, resolveTrainConfig, suggestKey,
  sftConfigSchema, evalConfigSchema, saliencyConfigSchema,
} from '../src/config';
import { thrown } from './helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-config-cmd-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const problemsOf = (call: () => unknown): string[] => {
  const e = thrown(call) as ConfigError;
  expect(e.name).toBe('ConfigError');
  return e.problems;
};

describe('dotted, kebab-case and camelCase flags name the same field in every command', () => {
  test('data.path: --data.path, --data-path (yargs: data-path and dataPath)', () => {
    for (const overrides of [{ data: { path: 'x.jsonl' } }, { 'data-path': 'x.jsonl' }, { dataPath: 'x.jsonl' }]) {
      const o = { task: 'gsm8k', ...overrides };
      expect(resolveTrainConfig({ overrides: o }).data.path).toBe('x.jsonl');
      expect(resolveEvalConfig({ overrides: o }).data.path).toBe('x.jsonl');
      expect(resolveSftConfig({ overrides: { ...o, out: 'm', model: 'models/tiny-arith' } }).data.path).toBe('x.jsonl');
    }
  });

  test("eval's saliency flags: --saliency-steps = --saliency.steps; --no-saliency = --saliency.enabled false", () => {
    expect(resolveEvalConfig({ overrides: { saliencySteps: '4' } }).saliency.steps).toBe(4);
    expect(resolveEvalConfig({ overrides: { saliency: { steps: 5 } } }).saliency.steps).toBe(5);
    const off = resolveEvalConfig({ overrides: { saliency: false } }).saliency;
    expect(off.enabled).toBe(false);
    expect(off.steps).toBe(30);
  });

  test('the short data flags go to the active task: --count follows --task and a config file', () => {
    expect(resolveEvalConfig({ overrides: { count: '50' } }).data.synthetic.count).toBe(50);
    const hinted = resolveEvalConfig({ overrides: { task: 'hinted', count: '7', minOps: '2', hint: 'none' } }).data;
    expect(hinted.hinted).toMatchObject({ count: 7, minOps: 2, hint: 'none' });
    expect(hinted.synthetic.count).toBe(2000);
    expect(resolveTrainConfig({ file: 'hinted-grpo', overrides: { count: 9 } }).data.hinted.count).toBe(9);
    expect(problemsOf(() => resolveEvalConfig({ overrides: { task: 'gsm8k', count: 5 } }))[0]).toContain("data.task is 'gsm8k'");
  });

  test('--model and --dtype are model.path and model.dtype in train, sft and eval', () => {
    expect(resolveTrainConfig({ overrides: { model: 'm1', dtype: 'float32' } }).model).toMatchObject({ path: 'm1', dtype: 'float32' });
    expect(resolveEvalConfig({ overrides: { model: 'm2' } }).model.path).toBe('m2');
    expect(resolveSftConfig({ overrides: { model: 'm3', out: 'o' } }).model.path).toBe('m3');
  });

  test('sft keeps its own default hint (the decorative/faithful mix) and checks model vs initConfig', () => {
    expect(resolveSftConfig({ overrides: { model: 'm', out: 'o' } }).data.hinted.hint).toBe('sft');
    expect(problemsOf(() => resolveSftConfig({ overrides: { out: 'o' } }))[0]).toContain('exactly one of model.path');
    expect(problemsOf(() => resolveSftConfig({ overrides: { initConfig: 'c.json', out: 'o' } }))[0]).toContain('needs tokenizer');
    expect(problemsOf(() => resolveSftConfig({ overrides: { model: 'm' } }))[0]).toMatch(/'out': got nothing/);
  });
});

describe('numbers are checked before any work', () => {
  test('eval --batch-size 0, --count abc; sft --steps -1 / abc / 2.5; --lr 0', () => {
    expect(problemsOf(() => resolveEvalConfig({ overrides: { batchSize: 0 } }))).toEqual([
      "'batchSize': got 0 (Too small: expected number to be >=1); allowed: integer (override)",
    ]);
    expect(problemsOf(() => resolveEvalConfig({ overrides: { count: 'abc' } }))).toEqual([
      "'data.synthetic.count': got 'abc'; allowed: integer (override)",
    ]);
    const sft = (o: Record<string, unknown>) => problemsOf(() => resolveSftConfig({ overrides: { model: 'm', out: 'o', ...o } })).join('\n');
    expect(sft({ steps: -1 })).toContain("'steps': got -1");
    expect(sft({ steps: 'abc' })).toContain("'steps': got 'abc'; allowed: integer");
    expect(sft({ steps: 2.5 })).toContain("'steps': got 2.5");
    expect(sft({ lr: 0 })).toContain("'lr': got 0");
    expect(problemsOf(() => resolveSaliencyConfig({ overrides: { model: 'm', input: 'i', out: 'o', tau: 0 } })).join()).toContain("'saliency.tau': got 0");
  });

  test('a non-finite number is shown as such, never as null', () => {
    expect(problemsOf(() => resolveEvalConfig({ overrides: { maxNewTokens: NaN } })).join()).toContain('got NaN');
  });
});

describe('suggestions', () => {
  test("eval_steps suggests train's eval.every (the HF name), never grpo.steps", () => {
    expect(suggestKey('eval_steps')).toBe('eval.every');
    expect(suggestKey('evalSteps')).toBe('eval.every');
    expect(suggestKey('eval_steps', evalConfigSchema)).toBeUndefined();
    expect(suggestKey('eval_steps', sftConfigSchema)).toBeUndefined();
    for (const unrelated of ['eval.steps', 'eval_batch_steps', 'train_steps']) expect(suggestKey(unrelated)).not.toBe('grpo.steps');
  });

  test('a key under a real group with no near name lists that group instead of jumping to another group', () => {
    const m = problemsOf(() => resolveTrainConfig({ overrides: { eval: { steps: 3 } } }))[0];
    expect(m).toBe("unknown config key 'eval.steps' — 'eval' has: every, count, path, maxNewTokens, batchSize, saliency, faithfulness (override)");
  });

  test('typos, swapped letters and names of other groups are still found, in every command', () => {
    expect(suggestKey('grpo.stpes')).toBe('grpo.steps');
    expect(editDistance('stpes', 'steps')).toBe(1);
    expect(suggestKey('grpo.temperature')).toBe('generation.temperature');
    expect(suggestKey('batch_size', evalConfigSchema)).toBe('batchSize');
    expect(suggestKey('max_new_tokens', evalConfigSchema)).toBe('maxNewTokens');
    expect(suggestKey('warmup_step', sftConfigSchema)).toBe('warmupSteps');
    expect(suggestKey('saliency.stesp', saliencyConfigSchema)).toBe('saliency.steps');
    expect(problemsOf(() => resolveEvalConfig({ overrides: { maxNewTokenz: 5 } }))[0]).toContain("did you mean 'maxNewTokens'?");
  });
});

describe("train's config file layers over the bundled default", () => {
  test('a file with only grpo.steps trains with the default run\'s lr, as bare train does; --help shows that lr', () => {
    const file = path.join(dir, 'steps.yaml');
    fs.writeFileSync(file, 'grpo:\n  steps: 2\n');
    const bare = resolveTrainConfig();
    const c = resolveTrainConfig({ file });
    expect(c.grpo.steps).toBe(2);
    expect(c.optim.lr).toBe(bare.optim.lr);
    expect(c).toEqual({ ...bare, grpo: { ...bare.grpo, steps: 2 } });
    expect(helpFields('train').find((f) => f.path === 'optim.lr')?.default).toBe(bare.optim.lr);
  });

  test('bundled names work for --config; a problem in the file names the file', () => {
    expect(resolveTrainConfig({ file: 'hinted-grpo' }).data.task).toBe('hinted');
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'optim:\n  lr: -1\n');
    expect(problemsOf(() => resolveTrainConfig({ file })).join()).toContain(`${file}:2`);
  });

  test('eval.every with a dataset task needs eval.path', () => {
    expect(problemsOf(() => resolveTrainConfig({ overrides: { task: 'gsm8k', dataPath: 'x', eval: { every: 5 } } }))[0]).toContain("needs 'eval.path'");
    expect(resolveTrainConfig({ overrides: { eval: { every: 5 } } }).eval).toMatchObject({ every: 5, count: 64, path: null });
  });
});

describe('the saliency command', () => {
  test("the run's config.yaml beside --input gives the mask and the task; flags and --config override", () => {
    const run = path.join(dir, 'run');
    fs.mkdirSync(run);
    fs.writeFileSync(path.join(run, 'config.yaml'), 'data:\n  task: hinted\nsaliency:\n  steps: 7\n  lr: 0.5\n');
    const input = path.join(run, 'completions.jsonl');
    const c = resolveSaliencyConfig({ overrides: { model: 'm', input, out: 'o' } });
    expect(c.runConfig).toBe(path.join(run, 'config.yaml'));
    expect(c.task).toBe('hinted');
    expect(c.saliency).toMatchObject({ steps: 7, lr: 0.5 });
    expect(c.saliency).not.toHaveProperty('enabled');
    expect(resolveSaliencyConfig({ overrides: { model: 'm', input, out: 'o', steps: '3', batchSize: 2, perLayer: true } }).saliency)
      .toMatchObject({ steps: 3, batchSize: 2, perLayer: true, lr: 0.5 });
    const elsewhere = resolveSaliencyConfig({ overrides: { model: 'm', input: path.join(dir, 'c.jsonl'), out: 'o' } });
    expect(elsewhere.task).toBeNull();
    expect(elsewhere.saliency.lr).toBe(resolveTrainConfig().saliency.lr);
    expect(problemsOf(() => resolveSaliencyConfig({ overrides: { input: 'i', out: 'o' } }))[0]).toMatch(/'model.path': got nothing/);
  });
});
