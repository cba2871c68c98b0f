// LoRA end to end on CPU with the bundled tiny model: `train --lora.r 16` (adapter-only checkpoints, exact resume,
// the run's adapter/), `merge` (a full checkpoint that computes what base + adapter computes), sft with LoRA, and
// --adapter for eval and saliency.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, load, noGrad, tensor } from '../src';
import { sft } from '../src/api/sft';
import { readMetrics } from '../src/log';
import { TIMING_KEYS, train } from '../src/train/trainer';
import { expectClose } from './helpers';
import { tinyRunConfig } from './tiny_run';

const MAIN = path.resolve('dist/cli/main.js');
const BASE = path.resolve('models/tiny-arith');
const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-lora-runs-'));
const quiet = { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream;

// The LoRA settings every run here shares; dropout and the KL term (its reference: the base, adapter disabled) on.
const LORA = { lora: { r: 16, dropout: 0.1 }, grpo: { beta: 0.04 }, optim: { lr: 1e-3 }, checkpoint: { every: 2, keep: 2 } };
const FLAGS = ['--lora.r', '16', '--lora.dropout', '0.1', '--grpo.beta', '0.04', '--optim.lr', '1e-3', '--checkpoint.every', '2'];

const cli = (args: string[]) => spawnSync(process.execPath, [MAIN, ...args], { encoding: 'utf8', timeout: 600000 });
const withoutTiming = (rows: Record<string, unknown>[]) => rows.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !TIMING_KEYS.test(k))));
const sizeOf = (dir: string): number => fs.readdirSync(dir).reduce((a, f) => {
  const p = path.join(dir, f);
  return a + (fs.statSync(p).isDirectory() ? sizeOf(p) : fs.statSync(p).size);
}, 0);

afterAll(() => fs.rmSync(runsDir, { recursive: true, force: true }));

test('train --lora.r 16: adapter-only checkpoints (PEFT format, small), the run writes its adapter, resume is exact', async () => {
  const r = cli(['train', '--name', 'lora-full', '--device', 'cpu', '--runsDir', runsDir, '--json', '--grpo.steps', '4',
    '--grpo.promptsPerStep', '2', '--grpo.numGenerations', '4', '--generation.maxNewTokens', '24', '--saliency.steps', '3',
    '--logging.reportEvery', '0', ...FLAGS]);
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  const dir = path.join(runsDir, 'lora-full');
  const step4 = path.join(dir, 'checkpoints', 'step-000004');
  expect(fs.readdirSync(step4).sort()).toEqual(['COMPLETE', 'adapter', 'optimizer.safetensors', 'state.json']);
  expect(fs.readdirSync(path.join(step4, 'adapter')).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
  expect(JSON.parse(fs.readFileSync(path.join(step4, 'adapter', 'adapter_config.json'), 'utf8'))).toMatchObject({
    peft_type: 'LORA', r: 16, lora_alpha: 32, lora_dropout: 0.1, task_type: 'CAUSAL_LM', base_model_name_or_path: 'models/tiny-arith',
  });
  // small: the adapter and its optimizer state, not the model
  expect(sizeOf(step4)).toBeLessThan(fs.statSync(path.join(BASE, 'model.safetensors')).size);
  const optimizer = load(path.join(step4, 'optimizer.safetensors'));
  const adapter = load(path.join(step4, 'adapter', 'adapter_model.safetensors'));
  expect(Object.keys(optimizer.tensors).length).toBe(2 * Object.keys(adapter.tensors).length); // exp_avg, exp_avg_sq per A and B
  // the adapter learned something: B is no longer zero
  const bMax = Math.max(...Object.entries(adapter.tensors).filter(([k]) => k.includes('lora_B')).map(([, t]) => t.abs().max().item() as number));
  expect(bMax).toBeGreaterThan(0);
  // the run's final adapter equals the last checkpoint's
  const final = load(path.join(dir, 'adapter', 'adapter_model.safetensors'));
  for (const [k, t] of Object.entries(final.tensors)) expect(t.toArray()).toEqual(adapter.tensors[k].toArray());
  for (const t of [...Object.values(optimizer.tensors), ...Object.values(adapter.tensors), ...Object.values(final.tensors)]) t.dispose();
  expect(r.stderr).toContain(path.join(dir, 'adapter'));

  // stopped after 2 steps, resumed: the metrics of the uninterrupted run (dropout masks and sampling included)
  const cfg = tinyRunConfig(runsDir, 'lora-resumed', 4, { ...LORA, logging: { json: true } });
  const first = await train({ config: cfg, stopAfter: 2, stream: quiet });
  expect(first).toMatchObject({ stepsDone: 2, interrupted: true });
  expect(fs.existsSync(path.join(first.runDir, 'checkpoints', 'step-000002', 'model'))).toBe(false);
  const second = await train({ config: cfg, resume: true, stream: quiet });
  expect(second).toMatchObject({ stepsDone: 4, interrupted: false });
  const resumed = withoutTiming(readMetrics(path.join(second.runDir, 'metrics.jsonl')));
  expect(resumed).toEqual(withoutTiming(readMetrics(path.join(dir, 'metrics.jsonl'))));
  expect(resumed.every((row) => Number.isFinite(row.kl as number))).toBe(true);
  // a resume that switches LoRA off is refused with the reason
  await expect(train({ config: { ...cfg, lora: { ...cfg.lora, r: 0, dropout: 0 } }, resume: true, stream: quiet })).rejects.toThrow(/holds a LoRA adapter/);
  await expect(train({ config: { ...cfg, lora: { ...cfg.lora, targetModules: ['q_proj'] } }, resume: true, stream: quiet }))
    .rejects.toThrow(/has lora\.targetModules down_proj,gate_proj,k_proj,o_proj,q_proj,up_proj,v_proj, the config says q_proj/);
}, 900000);

test('merge writes a full checkpoint that loads and computes what base + adapter compute; eval and saliency take --adapter', async () => {
  const adapterDir = path.join(runsDir, 'lora-full', 'adapter');
  const out = path.join(runsDir, 'merged');
  const r = cli(['merge', '--model', BASE, '--adapter', adapterDir, '--out', out]);
  expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(fs.readdirSync(out).sort()).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json']));
  const merged = await LlamaModel.load(out);
  const withAdapter = await LlamaModel.load(BASE);
  await withAdapter.loadAdapter(adapterDir);
  const ids = tensor([[1, 5, 9, 12, 20, 7, 3, 2]], { dtype: 'int64' });
  const a = noGrad(() => merged.forward(ids)), b = noGrad(() => withAdapter.forward(ids)), base = noGrad(() => withAdapter.withAdapterDisabled(() => withAdapter.forward(ids)));
  expectClose(a, b, 2e-5, 2e-5);
  expect(a.sub(base).abs().max().item()).toBeGreaterThan(1e-4); // the adapter is in there
  for (const t of [a, b, base, ids]) t.dispose();
  merged.dispose();
  withAdapter.dispose();
  const bad = cli(['merge', '--model', BASE, '--adapter', path.join(runsDir, 'nope'), '--out', path.join(runsDir, 'x')]);
  expect(bad.status).toBe(1);
  expect(bad.stderr).toContain('cannot load LoRA adapter');
  expect(fs.existsSync(path.join(runsDir, 'x'))).toBe(false);

  const ev = cli(['eval', '--model', BASE, '--adapter', adapterDir, '--device', 'cpu', '--count', '2', '--no-faithfulness', '--no-saliency',
    '--max-new-tokens', '16', '--out-dir', path.join(runsDir, 'eval'), '--json']);
  expect({ status: ev.status, stderr: ev.status === 0 ? '' : ev.stderr }).toEqual({ status: 0, stderr: '' });
  // the adapter acts: the same eval of the merged model gives the same completions
  const evMerged = cli(['eval', '--model', out, '--device', 'cpu', '--count', '2', '--no-faithfulness', '--no-saliency',
    '--max-new-tokens', '16', '--out-dir', path.join(runsDir, 'eval-merged'), '--json']);
  expect(evMerged.status).toBe(0);
  const completions = (d: string) => fs.readFileSync(path.join(runsDir, d, 'items.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).completion);
  expect(completions('eval')).toEqual(completions('eval-merged'));

  const sal = cli(['saliency', '--model', BASE, '--adapter', adapterDir, '--device', 'cpu', '--input', path.join(runsDir, 'lora-full', 'completions.jsonl'),
    '--out', path.join(runsDir, 'saliency'), '--limit', '2', '--steps', '2']);
  expect({ status: sal.status, stderr: sal.status === 0 ? '' : sal.stderr }).toEqual({ status: 0, stderr: '' });
  expect(fs.existsSync(path.join(runsDir, 'saliency', 'saliency.jsonl'))).toBe(true);
  const badAdapter = cli(['saliency', '--model', BASE, '--adapter', path.join(runsDir, 'nope'), '--device', 'cpu', '--input',
    path.join(runsDir, 'lora-full', 'completions.jsonl'), '--out', path.join(runsDir, 'saliency2'), '--limit', '1']);
  expect(badAdapter.status).toBe(1);
  expect(badAdapter.stderr).toContain('cannot load LoRA adapter');
}, 900000);

test('sft with lora.r trains only an adapter and writes it (PEFT format) with the tokenizer', async () => {
  const out = path.join(runsDir, 'sft-lora');
  const r = await sft({ config: { model: { path: BASE }, out, steps: 2, batchSize: 2, lr: 1e-3, warmupSteps: 0, device: 'cpu', lora: { r: 4 }, data: { task: 'synthetic' } } as never });
  expect(r.lora).toBe(true);
  expect(fs.readdirSync(out).sort()).toEqual(expect.arrayContaining(['adapter_config.json', 'adapter_model.safetensors', 'tokenizer.json']));
  expect(fs.existsSync(path.join(out, 'model.safetensors'))).toBe(false);
  const m = await LlamaModel.load(BASE);
  await m.loadAdapter(out);
  expect(m.adapter).toMatchObject({ r: 4, alpha: 8 });
  m.dispose();
}, 600000);
