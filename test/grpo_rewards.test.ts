// Reward functions: loading user modules (CommonJS here, ESM in a plain node child process, since jest's sandbox
// cannot import() ES modules) and combining their scores as TRL does.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import { combineRewards, loadRewardFunction, RewardContext } from '../src/grpo/reward-functions';

const ctx: RewardContext = { prompt: 'What is 2+3?', completion: 'The answer is 5', gold: '5', task: 'gsm8k', problemId: 'p1' };

let dir: string;
const write = (name: string, text: string): string => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
};

/** What `await loadRewardFunction(...)` throws. */
async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection, but the promise resolved');
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-rewards-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('loadRewardFunction', () => {
  test('module.exports = fn, named after the file', async () => {
    const file = write('exact_match.js', 'module.exports = (c) => (c.completion.endsWith(c.gold) ? 1 : 0);');
    const { name, fn } = await loadRewardFunction(file);
    expect(name).toBe('exact_match');
    expect(await fn(ctx)).toBe(1);
    expect(await fn({ ...ctx, gold: '6' })).toBe(0);
  });

  test('a default export (as tsc/babel compile `export default`), async functions too', async () => {
    const file = write('length.cjs', 'exports.__esModule = true; exports.default = async (c) => c.completion.length / 100;');
    const { name, fn } = await loadRewardFunction(file);
    expect(name).toBe('length');
    expect(await fn(ctx)).toBeCloseTo(0.15, 12);
  });

  test('a named export, by a path relative to the current directory', async () => {
    const file = write('several.js', 'exports.format = () => 0.5; exports.correct = (c) => (c.gold === "5" ? 2 : 0);');
    const { name, fn } = await loadRewardFunction(path.relative(process.cwd(), file), 'correct');
    expect(name).toBe('correct');
    expect(await fn(ctx)).toBe(2);
  });

  test('errors name the file and what to do', async () => {
    const missing = await rejection(loadRewardFunction('no/such/reward.js'));
    expect(missing.message).toMatch(/reward module not found: no\/such\/reward\.js \(looked for .*no\/such\/reward\.js/);

    const several = write('no_default.js', 'exports.format = () => 0.5; exports.threshold = 3;');
    const noDefault = await rejection(loadRewardFunction(several));
    expect(noDefault.message).toMatch(/exports no default function; its exports: format \(function\), threshold \(number\)/);

    const noName = await rejection(loadRewardFunction(several, 'threshold'));
    expect(noName.message).toMatch(/has no function export named "threshold"; its exports: format \(function\), threshold \(number\)/);

    const broken = write('broken.js', 'module.exports = (c) => {');
    expect((await rejection(loadRewardFunction(broken))).message).toMatch(/reward module .*broken\.js failed to load: /);

    const throwing = write('throwing.js', 'throw new Error("needs an API key");');
    expect((await rejection(loadRewardFunction(throwing))).message).toMatch(/failed to load: needs an API key/);

    expect((await rejection(loadRewardFunction(dir))).message).toMatch(/reward module not found/);
  });

  test('ES modules (.mjs): default and named exports, in plain node', () => {
    // Compile the loader alone (it imports only node builtins) and drive it from a child node process.
    const source = fs.readFileSync(path.join(__dirname, '../src/grpo/reward-functions.ts'), 'utf8');
    const js = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } });
    const loader = write('loader.js', js.outputText);
    write('esm_reward.mjs', 'export default (c) => (c.gold === "5" ? 1 : 0);\nexport const bonus = async () => 0.25;\n');
    write('esm_none.mjs', 'export const threshold = 3;\n');
    const script = `
      const { loadRewardFunction } = require(${JSON.stringify(loader)});
      const c = ${JSON.stringify(ctx)};
      (async () => {
        const a = await loadRewardFunction('esm_reward.mjs');
        const b = await loadRewardFunction('esm_reward.mjs', 'bonus');
        let err = '';
        try { await loadRewardFunction('esm_none.mjs'); } catch (e) { err = e.message; }
        console.log(JSON.stringify({ a: [a.name, await a.fn(c)], b: [b.name, await b.fn(c)], err }));
      })();`;
    const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8' }));
    expect(out.a).toEqual(['esm_reward', 1]);
    expect(out.b).toEqual(['bonus', 0.25]);
    expect(out.err).toMatch(/exports no default function; its exports: threshold \(number\)/);
  });
});

describe('combineRewards', () => {
  test('weighted sum with NaN as 0, and per-function mean/std over the non-NaN values', () => {
    const { total, metrics } = combineRewards(
      { correct: [1, 0, 1, NaN], format: [0.5, 0.5, NaN, NaN], saliency: [0.2, -0.4, 0.6, 0.1] },
      { correct: 2, saliency: 0.5 },
    );
    // format has no weight: 1, as TRL's default. The last completion: 2·NaN→0, NaN→0, 0.5·0.1.
    expect(total[0]).toBeCloseTo(2 + 0.5 + 0.1, 12);
    expect(total[1]).toBeCloseTo(0 + 0.5 - 0.2, 12);
    expect(total[2]).toBeCloseTo(2 + 0 + 0.3, 12);
    expect(total[3]).toBeCloseTo(0.05, 12);
    expect(metrics['rewards/correct/mean']).toBeCloseTo(2 / 3, 12);
    // correct: values 1, 0, 1, mean 2/3, squared deviations 1/9 + 4/9 + 1/9 = 6/9, unbiased variance 1/3.
    expect(metrics['rewards/correct/std']).toBeCloseTo(Math.sqrt(1 / 3), 12);
    expect(metrics['rewards/format/mean']).toBe(0.5);
    expect(metrics['rewards/format/std']).toBe(0);
    // saliency: mean 0.125, deviations 0.075, −0.525, 0.475, −0.025 → squares sum 0.5075, variance 0.5075 / 3.
    expect(metrics['rewards/saliency/mean']).toBeCloseTo(0.125, 12);
    expect(metrics['rewards/saliency/std']).toBeCloseTo(Math.sqrt(0.5075 / 3), 12);
    expect(Object.keys(metrics)).toHaveLength(6);
  });

  test('a function that applied nowhere has NaN mean and std (as TRL logs it), and adds nothing', () => {
    const { total, metrics } = combineRewards({ a: [NaN, NaN], b: [1, 3] }, {});
    expect(total).toEqual([1, 3]);
    expect(metrics['rewards/a/mean']).toBeNaN();
    expect(metrics['rewards/a/std']).toBeNaN();
    expect(metrics['rewards/b/std']).toBeCloseTo(Math.SQRT2, 12);
  });

  test('a completion that no weighted function scored is unscorable: total NaN (a weight of 0 switches a function off)', () => {
    const { total } = combineRewards({ correct: [1, 0, 0], custom: [NaN, 0.5, NaN] }, { correct: 0, custom: 1 });
    expect(total[0]).toBeNaN(); // correct scored it, but with weight 0
    expect(total[1]).toBe(0.5);
    expect(total[2]).toBeNaN();
    expect(combineRewards({ a: [NaN, 1], b: [NaN, NaN] }, {}).total[0]).toBeNaN();
  });

  test('bad input gets an actionable error', () => {
    expect(() => combineRewards({ a: [1, 2], b: [1] }, {})).toThrow(/reward function b gave 1 rewards, a gave 2/);
    expect(() => combineRewards({ a: [1] }, { typo: 1 })).toThrow(/weights name unknown reward functions: typo \(the functions are: a\)/);
    expect(() => combineRewards({ a: [Infinity] }, {})).toThrow(/reward function a gave Infinity for completion 0/);
    expect(() => combineRewards({ a: [1] }, { a: NaN })).toThrow(/weight of a must be a finite number/);
    expect(() => combineRewards({}, {})).toThrow(/no reward functions/);
  });
});
