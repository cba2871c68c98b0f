// train(), sft() and evaluate() from the built package root (dist/index.js), as a TypeScript script drives a run:
// typed options (the commands' config fields), the same validation before any work, and evaluation during training
// (eval.every: eval/* metrics in metrics.jsonl and report.html).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';

// The built package, typed by its source: the options below must compile against the exported types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const atman = require(path.join(__dirname, '..', 'dist')) as typeof import('../src');

const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;
let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-api-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const readJsonl = (file: string) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('train() runs with a partial config over the bundled default and evaluates every step on a held-out set', async () => {
  const options: import('../src').TrainRunOptions = {
    config: {
      name: 'api', runsDir: dir, device: 'cpu',
      grpo: { steps: 2, promptsPerStep: 2, numGenerations: 2 }, generation: { maxNewTokens: 24 }, saliency: { steps: 2 },
      eval: { every: 1, count: 4, maxNewTokens: 32 },
    },
    stream: quiet,
  };
  const out = await atman.train(options);
  expect(out).toMatchObject({ stepsDone: 2, interrupted: false });
  const rows = readJsonl(path.join(out.runDir, 'metrics.jsonl'));
  expect(rows).toHaveLength(2);
  for (const r of rows) {
    expect(r['eval/n']).toBe(4);
    for (const key of ['eval/accuracy_strict', 'eval/accuracy_flexible', 'eval/format_rate']) {
      expect(r[key]).toBeGreaterThanOrEqual(0);
      expect(r[key]).toBeLessThanOrEqual(1);
    }
  }
  const report = fs.readFileSync(path.join(out.runDir, 'report.html'), 'utf8');
  expect(report).toContain('held-out eval');
  expect(report).toContain('eval/accuracy_strict');
  // the bundled default's lr, not the schema's: the config layers over tiny-synthetic
  const saved = parse(fs.readFileSync(path.join(out.runDir, 'config.yaml'), 'utf8')) as { optim: { lr: number } };
  expect(saved.optim.lr).toBe(1e-5);
}, 300000);

test('sft() writes a model and evaluate() measures it, with typed options', async () => {
  const model = path.join(dir, 'sft-model');
  const sftOptions: import('../src').SftRunOptions = {
    config: { model: { path: 'models/tiny-arith' }, out: model, steps: 2, batchSize: 2, warmupSteps: 0, device: 'cpu', data: { synthetic: { count: 8 } } },
  };
  const r = await atman.sft(sftOptions);
  expect(Number.isFinite(r.firstLoss) && Number.isFinite(r.lastLoss)).toBe(true);
  expect(fs.existsSync(path.join(model, 'model.safetensors'))).toBe(true);

  const evalOptions: import('../src').EvaluateOptions = {
    config: { model: { path: model }, device: 'cpu', data: { synthetic: { count: 4 } }, maxNewTokens: 24, saliency: { enabled: false }, faithfulness: false },
  };
  const { report, items } = await atman.evaluate(evalOptions);
  expect(report.n).toBe(4);
  expect(items).toHaveLength(4);
}, 300000);

test('bad options are rejected before any work or file', async () => {
  const out = path.join(dir, 'never');
  await expect(atman.sft({ config: { model: { path: 'models/tiny-arith' }, out, steps: -1 } })).rejects.toThrow("'steps': got -1");
  expect(fs.existsSync(out)).toBe(false);
  await expect(atman.evaluate({ config: { batchSize: 0 } })).rejects.toThrow("'batchSize': got 0");
  await expect(atman.train({ config: { name: 'bad', runsDir: dir, optim: { lr: -1 } } })).rejects.toThrow("'optim.lr': got -1");
  expect(fs.existsSync(path.join(dir, 'bad'))).toBe(false);
});
