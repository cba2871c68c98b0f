// The commands as a user runs them (dist/cli/main.js): bad numbers are rejected before any work or file, flags are
// spelled the same in every command, suggestions are near names, and `saliency` finds the bundled model from any
// directory (as in an installed package) and fails when it writes nothing.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const MAIN = path.join(__dirname, '..', 'dist', 'cli', 'main.js');
let dir: string;

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-cli-cmd-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in `cwd` (default: a directory without models/); a hang fails by the timeout, not by jest's. */
function cli(args: string[], cwd = dir): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd, encoding: 'utf8', timeout: 120000 });
  if (r.error) throw r.error;
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('bad numbers are rejected up front', () => {
  test('eval --batch-size 0 exits 1 naming the field (it used to hang)', () => {
    const r = cli(['eval', '--batch-size', '0', '--model', 'models/tiny-arith']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'batchSize': got 0");
  });

  test('sft --steps -1 / abc exits 1 before writing a model', () => {
    for (const steps of ['-1', 'abc']) {
      const out = path.join(dir, `sft-${steps}`);
      const r = cli(['sft', '--model', 'models/tiny-arith', '--out', out, '--steps', steps]);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(`'steps': got ${steps === 'abc' ? "'abc'" : '-1'}`);
      expect(r.stderr).not.toContain('toFixed');
      expect(fs.existsSync(out)).toBe(false);
    }
  });

  test('sft --log-every 2 logs steps 2, 4 and the last (5) as JSON lines', () => {
    const out = path.join(dir, 'sft-log-every');
    const r = cli(['sft', '--model', 'models/tiny-arith', '--out', out, '--steps', '5', '--batch-size', '2', '--log-every', '2', '--json']);
    expect(r.status).toBe(0);
    const steps = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l).step);
    expect(steps).toEqual([2, 4, 5]);
    expect(cli(['sft', '--model', 'models/tiny-arith', '--out', out + '-0', '--log-every', '0']).stderr).toContain("'logEvery': got 0");
  });

  test("eval --count abc names the value given (not 'got null')", () => {
    const r = cli(['eval', '--count', 'abc']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("'data.synthetic.count': got 'abc'; allowed: integer");
  });
});

describe('one flag syntax for every command', () => {
  test('eval takes --data.path (train\'s spelling) and train takes --data-path (eval\'s)', () => {
    const missing = path.join(dir, 'missing.jsonl');
    for (const args of [['eval', '--task', 'gsm8k', '--data.path', missing], ['train', '--task', 'gsm8k', '--data-path', missing, '--grpo.steps', '1']]) {
      const r = cli(args);
      expect(r.status).toBe(1);
      expect(r.stderr).not.toContain('Unknown argument');
      expect(r.stderr).toContain('missing.jsonl');
    }
  });

  test("unknown flags get a near name: train --eval_steps → eval.every; eval's has none (never grpo.steps)", () => {
    const train = cli(['train', '--eval_steps', '5']);
    expect(train.status).toBe(1);
    expect(train.stderr).toContain("unknown config key 'eval_steps' — did you mean 'eval.every'?");
    const ev = cli(['eval', '--eval_steps', '5', '--max_new_tokens', '8']);
    expect(ev.status).toBe(1);
    expect(ev.stderr).toContain("unknown config key 'eval_steps' (override)");
    expect(ev.stderr).toContain("did you mean 'maxNewTokens'?");
    expect(ev.stderr + train.stderr).not.toContain('grpo.steps');
  });

  test('train --help shows the defaults that apply (the bundled run\'s lr), for every command', () => {
    expect(cli(['train', '--help']).stdout).toContain('--optim.lr (number, default 0.00001)');
    expect(cli(['eval', '--help']).stdout).toContain('--saliency.steps (integer, default 30)');
    expect(cli(['sft', '--help']).stdout).toMatch(/--data\.hinted\.hint \([^)]*default\s+"sft"\)/);
    expect(cli(['saliency', '--help']).stdout).toContain('--saliency.lr (number, default 2)');
  });
});

describe('saliency', () => {
  // A row as train writes it to runs/<run>/completions.jsonl.
  const trainRow = {
    step: 1, problem: 'synthetic:0:5', task: 'synthetic', question: 'What is 7 + 4?', completion: '7 + 4 = 11\n#### 11', gold: '11',
    correct: true, format: true, finish: 'stop', reward: 1.1, advantage: 0.5, rewards: { correct: 1, format: 1, saliency: 0 },
  };

  test('--model models/tiny-arith resolves to the bundled model from any directory', () => {
    const input = path.join(dir, 'completions.jsonl');
    fs.writeFileSync(input, JSON.stringify(trainRow) + '\n');
    const out = path.join(dir, 'sal');
    const r = cli(['saliency', '--model', 'models/tiny-arith', '--input', input, '--out', out, '--steps', '2', '--device', 'cpu']);
    expect({ status: r.status, stderr: r.status === 0 ? '' : r.stderr }).toEqual({ status: 0, stderr: '' });
    const rows = fs.readFileSync(path.join(out, 'saliency.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ id: 'synthetic:0:5', row: 1, task: 'synthetic', correct: true });
  });

  test('exits non-zero and writes nothing when no row is usable', () => {
    const input = path.join(dir, 'unusable.jsonl');
    fs.writeFileSync(input, JSON.stringify({ ...trainRow, completion: 'no answer here' }) + '\n');
    const out = path.join(dir, 'sal-none');
    const r = cli(['saliency', '--model', 'models/tiny-arith', '--input', input, '--out', out, '--device', 'cpu']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no usable completion');
    expect(r.stderr).toContain("no parsable '#### <answer>'");
    expect(fs.existsSync(out)).toBe(false);
  });
});
