// Your own data end to end on CPU with the bundled tiny model: `train --data.path FILE` without data.task reads the
// file (task inferred, never the synthetic set), and `train`/`eval` report skipped rows (unreadable, or a prompt too
// long for the model) with their lines, in the log and in the `skipped` field of their JSON output.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { resolveConfig } from '../src/config';
import { train } from '../src/train/trainer';

const FILE = 'test/fixtures/data/own/long-prompt.jsonl'; // line 2: a prompt longer than 512 positions; line 4: not JSON
const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-own-runs-'));
afterAll(() => fs.rmSync(runsDir, { recursive: true, force: true }));

test('train --data.path FILE alone trains on the file, and names the rows it skips', async () => {
  const lines: string[] = [];
  const stream = { write: (s: string) => lines.push(s) > 0, isTTY: false } as unknown as NodeJS.WritableStream;
  const config = resolveConfig({
    file: 'configs/tiny-synthetic.yaml',
    overrides: {
      name: 'own', runsDir, device: 'cpu', data: { path: FILE },
      grpo: { steps: 1, promptsPerStep: 2, numGenerations: 2 }, generation: { maxNewTokens: 8 }, saliency: { steps: 1 },
    },
  });
  const out = await train({ config, stream });
  const log = lines.join('');
  expect(log).toMatch(/: 3 problems \(2 rows skipped\)/);
  expect(log).toContain(`data.task auto: reading ${FILE} as 'custom'`);
  expect(log).toContain(`skipped 2 row(s) of ${FILE}:\n  ${FILE}:2: prompt too long: problem custom:long-prompt:1 has`);
  expect(log).toContain(`  ${FILE}:4: not valid JSON`);
  expect(out.skipped).toEqual({ count: 2, rows: [expect.objectContaining({ file: FILE, row: 2 }), expect.objectContaining({ file: FILE, row: 4 })] });
  const completions = fs.readFileSync(path.join(out.runDir, 'completions.jsonl'), 'utf8');
  expect(completions).toMatch(/What is [234] \+ [1-4]\?/); // the file's questions, not generated arithmetic
}, 300000);

test('eval --json has a skipped field; stderr lists the rows', () => {
  const r = spawnSync(process.execPath, ['dist/cli/main.js', 'eval', '--data-path', FILE, '--no-saliency', '--no-faithfulness',
    '--max-new-tokens', '8', '--json', '--device', 'cpu'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout);
  expect(report.n).toBe(3);
  expect(report.skipped.count).toBe(2);
  expect(report.skipped.rows.map((x: { row: number }) => x.row)).toEqual([2, 4]);
  expect(report.skipped.rows[0].reason).toMatch(/^prompt too long: problem custom:long-prompt:1 has \d+ prompt tokens \+ 8 \(max-new-tokens\) > the model's 512 positions/);
  expect(r.stderr).toContain(`${FILE}:4: not valid JSON`);
  expect(r.stderr).toContain(`${FILE}:2: prompt too long`);
}, 120000);
