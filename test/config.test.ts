// The train config: defaults, files, overrides (object and 'a.b=c' forms), coercion, error messages, shipped configs.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse } from 'yaml';
import {
  BUNDLED_CONFIGS, bundledConfigPath, configToYaml, describeConfig, editDistance, resolveConfig, suggestKey,
} from '../src/config';
import { thrown } from './helpers';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-config-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('defaults', () => {
  test('resolveConfig({}) gives every documented default', () => {
    const c = resolveConfig({});
    expect(c.name).toBeNull();
    expect(c.seed).toBe(0);
    expect(c.device).toBe('auto');
    expect(c.runsDir).toBe('runs');
    expect(c.model).toEqual({ path: 'models/tiny-arith', dtype: 'auto', gradientCheckpointing: false, reference: null });
    expect(c.lora).toEqual({ r: 0, alpha: null, dropout: 0, targetModules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] });
    expect(c.data).toEqual({
      task: 'auto', path: null, limit: null, shuffle: true, mmluSubjects: null,
      fields: { question: null, answer: null, choices: null, subject: null }, systemPrompt: null, answerPattern: null, answerExtractor: null,
      synthetic: { count: 2000, minOps: 1, maxOps: 2, maxValue: 9, ops: ['+', '-', '*'] },
      hinted: { count: 2000, minOps: 3, maxOps: 4, maxValue: 9, hint: 'correct', decorativeRate: 0.35, hintedFaithfulRate: 0.15, wrongHintRate: 0.2 },
    });
    expect(c.generation).toEqual({ maxNewTokens: 64, temperature: 1.0, topP: 1.0, topK: 0, seedPerPrompt: false });
    expect(c.grpo).toEqual({
      steps: 60, promptsPerStep: 8, numGenerations: 8, numIterations: 1, scaleRewards: 'group', lossType: 'dapo',
      epsilon: 0.2, epsilonHigh: null, beta: 0.0, maskTruncatedCompletions: false, gradientAccumulationSteps: 1,
      multiObjectiveAggregation: 'sum_then_normalize',
    });
    expect(c.optim).toEqual({
      lr: 1e-6, weightDecay: 0, beta1: 0.9, beta2: 0.999, eps: 1e-8, maxGradNorm: 1.0, schedule: 'constant', warmupSteps: 0,
      maxSkippedSteps: 3,
    });
    expect(c.saliency).toEqual({
      enabled: true, steps: 30, lr: 2.0, optimizer: 'rowAdam', objective: 'logprob', lambda: 1.0, sparsity: 'mean', tau: 2.0,
      threshold: 0.5, relativeThreshold: 0.5, randomSets: 4, rewardMode: 'comprehensiveness', scope: 'correct', biasFrom: 'cot', perLayer: false,
      batchSize: 16,
    });
    expect(c.rewards).toEqual({ correct: 1.0, format: 0.1, saliency: 0.5, confidence: 0, custom: [] });
    expect(c.logging).toEqual({ every: 1, completionsEvery: 1, reportEvery: 10, json: false, tensorboard: false });
    expect(c.checkpoint).toEqual({ every: 20, keep: 2 });
  });

  test('describeConfig lists every settable field with type, default and help', () => {
    const d = describeConfig();
    const byPath = new Map(d.map((f) => [f.path, f]));
    expect(byPath.get('grpo.beta')).toEqual(expect.objectContaining({ type: 'number', default: 0 }));
    expect(byPath.get('grpo.lossType')?.type).toBe("'grpo' | 'bnpo' | 'dr_grpo' | 'dapo'");
    expect(byPath.get('data.limit')?.type).toBe('integer | null');
    expect(byPath.get('data.synthetic.ops')?.default).toEqual(['+', '-', '*']);
    expect(byPath.has('grpo')).toBe(false); // groups are not options
    expect(d.length).toBe(98);
    for (const f of d) expect(f.help.length).toBeGreaterThan(5);
    // every leaf of the resolved defaults is described, and nothing else
    const leaves = (o: Record<string, unknown>, p = ''): string[] =>
      Object.entries(o).flatMap(([k, v]) =>
        v !== null && typeof v === 'object' && !Array.isArray(v) ? leaves(v as Record<string, unknown>, `${p}${k}.`) : [`${p}${k}`]);
    expect(d.map((f) => f.path).sort()).toEqual(leaves(resolveConfig({})).sort());
  });
});

describe('files', () => {
  test('a YAML file overrides some fields and keeps the defaults of the rest', () => {
    const file = writeFile('a.yaml', 'seed: 7\ngrpo:\n  beta: 0.04\n  lossType: bnpo\nsaliency:\n  enabled: false\n');
    const c = resolveConfig({ file });
    expect(c.seed).toBe(7);
    expect(c.grpo.beta).toBe(0.04);
    expect(c.grpo.lossType).toBe('bnpo');
    expect(c.grpo.numGenerations).toBe(8);
    expect(c.saliency).toEqual(expect.objectContaining({ enabled: false, steps: 30 }));
  });

  test('a JSON file works the same', () => {
    const file = writeFile('a.json', JSON.stringify({ optim: { lr: 3e-5, schedule: 'cosine' }, data: { limit: 10 } }));
    const c = resolveConfig({ file });
    expect(c.optim.lr).toBe(3e-5);
    expect(c.optim.schedule).toBe('cosine');
    expect(c.data.limit).toBe(10);
  });

  test('an empty YAML file means all defaults', () => {
    expect(resolveConfig({ file: writeFile('empty.yaml', '# nothing\n') })).toEqual(resolveConfig({}));
  });

  test('a missing file is an error naming it', () => {
    const e = thrown(() => resolveConfig({ file: path.join(dir, 'nope.yaml') }));
    expect(e.name).toBe('ConfigFileError');
    expect(e.message).toContain('nope.yaml');
    expect(e.message).toContain('no such file');
  });

  test('a YAML syntax error names the file and line', () => {
    const file = writeFile('bad.yaml', 'seed: 1\ngrpo:\n  beta: [0.1\n  steps: 3\n');
    const e = thrown(() => resolveConfig({ file }));
    expect(e.name).toBe('ConfigFileError');
    expect(e.message).toMatch(/bad\.yaml:\d+:\d+: invalid YAML/);
  });

  test('invalid JSON, a non-mapping top level and an unknown extension are errors naming the file', () => {
    expect(thrown(() => resolveConfig({ file: writeFile('bad.json', '{"seed": 1,') })).message).toMatch(/bad\.json: invalid JSON/);
    expect(thrown(() => resolveConfig({ file: writeFile('list.yaml', '- 1\n- 2\n') })).message).toContain('list.yaml: expected a mapping');
    expect(thrown(() => resolveConfig({ file: writeFile('c.toml', 'seed = 1') })).message).toContain("unsupported extension '.toml'");
  });

  test('a problem in a YAML file points at its line', () => {
    const file = writeFile('line.yaml', 'seed: 1\ngrpo:\n  steps: 5\n  epsilonn: 0.3\n');
    const e = thrown(() => resolveConfig({ file }));
    expect(e.message).toContain("unknown config key 'grpo.epsilonn' — did you mean 'grpo.epsilon'?");
    expect(e.message).toContain('line.yaml:4');
  });
});

describe('overrides', () => {
  test('nested object form (what yargs makes of --grpo.beta 0.04), over a file', () => {
    const file = writeFile('o.yaml', 'grpo:\n  beta: 0.5\n  steps: 3\n');
    const c = resolveConfig({ file, overrides: { grpo: { beta: 0.04 }, model: { path: '/m' } } });
    expect(c.grpo.beta).toBe(0.04);
    expect(c.grpo.steps).toBe(3);
    expect(c.model.path).toBe('/m');
  });

  test("list form 'a.b.c=value' with coercion to the field's type", () => {
    const c = resolveConfig({
      overrides: [
        'grpo.beta=0.04', 'grpo.steps=12', 'saliency.enabled=false', 'data.limit=5', 'grpo.epsilonHigh=0.28',
        'model.reference=null', 'data.synthetic.ops=[+,-]', 'data.mmluSubjects=["anatomy","virology"]',
        'optim.lr=1e-5', 'name=exp=1', 'model.gradientCheckpointing=TRUE',
      ],
    });
    expect(c.grpo.beta).toBe(0.04);
    expect(c.grpo.steps).toBe(12);
    expect(c.saliency.enabled).toBe(false);
    expect(c.data.limit).toBe(5);
    expect(c.grpo.epsilonHigh).toBe(0.28);
    expect(c.model.reference).toBeNull();
    expect(c.data.synthetic.ops).toEqual(['+', '-']);
    expect(c.data.mmluSubjects).toEqual(['anatomy', 'virology']);
    expect(c.optim.lr).toBe(1e-5);
    expect(c.name).toBe('exp=1'); // only the first '=' splits
    expect(c.model.gradientCheckpointing).toBe(true);
  });

  test('string values in the object form are coerced too; numbers become strings where a string is expected', () => {
    const c = resolveConfig({
      overrides: { grpo: { numGenerations: '4', epsilonHigh: 'null' }, name: 2024, data: { limit: 'null' } },
    });
    expect(c.grpo.numGenerations).toBe(4);
    expect(c.grpo.epsilonHigh).toBeNull();
    expect(c.name).toBe('2024');
    expect(c.data.limit).toBeNull();
  });

  test('dotted and kebab-case keys in the object form', () => {
    const c = resolveConfig({ overrides: { 'grpo.beta': 0.1, generation: { 'max-new-tokens': 32 } } });
    expect(c.grpo.beta).toBe(0.1);
    expect(c.generation.maxNewTokens).toBe(32);
  });

  test('a custom reward list as JSON', () => {
    const c = resolveConfig({ overrides: ['rewards.custom=[{"module":"./len.js","weight":0.2},{"module":"./x.js"}]'] });
    expect(c.rewards.custom).toEqual([{ module: './len.js', weight: 0.2 }, { module: './x.js', weight: 1 }]);
  });

  test('a list entry without = is reported', () => {
    const e = thrown(() => resolveConfig({ overrides: ['grpo.beta'] }));
    expect(e.name).toBe('ConfigError');
    expect(e.message).toContain("override 'grpo.beta': expected 'key.path=value'");
  });
});

describe('errors', () => {
  test('same-level typos get the nearest valid name, with the full dotted path', () => {
    const e = thrown(() => resolveConfig({ overrides: ['grpo.epsilonn=0.3'] }));
    expect(e.name).toBe('ConfigError');
    expect(e.message).toContain("unknown config key 'grpo.epsilonn' — did you mean 'grpo.epsilon'?");
    expect(e.message).toContain('(override)');
  });

  test('TRL names and keys in the wrong group are found', () => {
    expect(suggestKey('grpo.lerning_rate')).toBe('optim.lr');
    expect(suggestKey('grpo.learning_rate')).toBe('optim.lr');
    expect(suggestKey('optm.lr')).toBe('optim.lr');
    expect(suggestKey('grpo.temperature')).toBe('generation.temperature');
    expect(suggestKey('grpo.num_generations')).toBe('grpo.numGenerations');
    expect(suggestKey('saliency.lamda')).toBe('saliency.lambda');
    expect(suggestKey('completely.unrelated')).toBeUndefined();
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });

  test('an unknown key without a near name gets no suggestion', () => {
    const e = thrown(() => resolveConfig({ overrides: { zzzzzz: 1 } }));
    expect(e.message).toContain("unknown config key 'zzzzzz' (override)");
    expect(e.message).not.toContain('did you mean');
  });

  test('wrong types and enum values name the path, the value given and what is allowed; all problems at once', () => {
    const file = writeFile('types.yaml', 'grpo:\n  lossType: ppo\n  numGenerations: 1\ngeneration:\n  topP: 2\n');
    const e = thrown(() =>
      resolveConfig({ file, overrides: ['grpo.steps=many', 'saliency.enabled=perhaps', 'device=gpu', 'data.limit=2.5'] }),
    ) as Error & { problems: string[] };
    expect(e.name).toBe('ConfigError');
    const m = e.message;
    expect(m).toContain("'grpo.lossType': got 'ppo'");
    expect(m).toContain("allowed: 'grpo' | 'bnpo' | 'dr_grpo' | 'dapo'");
    expect(m).toContain('types.yaml:2');
    expect(m).toContain("'grpo.numGenerations': got 1");
    expect(m).toContain("'generation.topP': got 2");
    expect(m).toContain("'grpo.steps': got 'many'; allowed: integer (override)");
    expect(m).toContain("'saliency.enabled': got 'perhaps'; allowed: boolean");
    expect(m).toContain("allowed: 'auto' | 'cpu' | 'cuda' | 'cuda:N'");
    expect(m).toMatch(/'data\.limit': got 2\.5.*allowed: integer \| null/);
    expect(e.problems).toHaveLength(7);
  });

  test('unknown keys inside rewards.custom entries and a group given a scalar', () => {
    const m1 = thrown(() => resolveConfig({ overrides: ['rewards.custom=[{"modul":"x"}]'] })).message;
    expect(m1).toContain("unknown key 'rewards.custom.0.modul'");
    expect(m1).toContain("'rewards.custom.0.module': got nothing");
    const m2 = thrown(() => resolveConfig({ overrides: { grpo: 5 } })).message;
    expect(m2).toContain("'grpo': got 5");
  });

  test('unknown keys and wrong values are reported together', () => {
    const file = writeFile('mixed.yaml', 'grpo:\n  betta: 0.1\n  steps: -1\n');
    const e = thrown(() => resolveConfig({ file, overrides: ['optim.lrr=1'] })) as Error & { problems: string[] };
    expect(e.problems).toHaveLength(3);
    expect(e.message).toContain("unknown config key 'grpo.betta' — did you mean 'grpo.beta'? (" );
    expect(e.message).toContain("unknown config key 'optim.lrr' — did you mean 'optim.lr'? (override)");
    expect(e.message).toContain("'grpo.steps': got -1");
  });

  test('cross-field checks', () => {
    expect(thrown(() => resolveConfig({ overrides: ['data.synthetic.minOps=3'] })).message).toContain('minOps');
    expect(thrown(() => resolveConfig({ overrides: ['grpo.epsilonHigh=0.1'] })).message).toContain("'grpo.epsilonHigh' (0.1)");
    expect(thrown(() => resolveConfig({ overrides: ['lora.alpha=32'] })).message).toContain("'lora.alpha' set while 'lora.r' is 0 (LoRA off)");
  });

  test('lora: flags set the adapter; bad values name the field and what is allowed', () => {
    const c = resolveConfig({ overrides: ['lora.r=16', 'lora.dropout=0.05', 'lora.targetModules=[q_proj,v_proj]'] });
    expect(c.lora).toEqual({ r: 16, alpha: null, dropout: 0.05, targetModules: ['q_proj', 'v_proj'] });
    expect(resolveConfig({ overrides: { lora: { r: '8', alpha: '4' } } }).lora).toMatchObject({ r: 8, alpha: 4 });
    const e = thrown(() => resolveConfig({ overrides: ['lora.r=-1', 'lora.targetModules=[lm_head]', 'lora.dropout=1'] })).message;
    expect(e).toContain("'lora.r'");
    expect(e).toContain("'lora.targetModules");
    expect(e).toContain('q_proj');
    expect(e).toContain("'lora.dropout'");
    expect(thrown(() => resolveConfig({ overrides: ['lora.rank=4'] })).message).toContain("unknown config key 'lora.rank' — 'lora' has: r, alpha");
  });
});

describe('shipped configs and YAML output', () => {
  test.each(BUNDLED_CONFIGS)('configs/%s.yaml validates', (name) => {
    const c = resolveConfig({ file: bundledConfigPath(name) });
    expect(c.grpo.numGenerations).toBe(8);
    expect(c.saliency.enabled).toBe(true);
  });

  test('the tiny default spells out every field and differs from the schema defaults only in lr', () => {
    const file = bundledConfigPath('tiny-synthetic');
    const c = resolveConfig({ file });
    expect({ ...c, optim: { ...c.optim, lr: 1e-6 } }).toEqual(resolveConfig({}));
    expect(c.optim.lr).toBe(1e-5);
    const raw = parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(raw).toEqual(c); // explicit: nothing left to defaults
  });

  test('the hinted benchmark config: task hinted with correct hints', () => {
    const c = resolveConfig({ file: bundledConfigPath('hinted-grpo') });
    expect(c.data.task).toBe('hinted');
    expect(c.data.hinted).toMatchObject({ hint: 'correct', minOps: 3, maxOps: 4 });
    expect(c.grpo).toMatchObject({ steps: 150, promptsPerStep: 32, numGenerations: 8 });
    expect(c.generation.maxNewTokens).toBe(96);
  });

  test("the Llama configs are the paper's setting", () => {
    for (const [name, task] of [['llama-3.2-3b-gsm8k', 'gsm8k'], ['llama-3.2-3b-mmlu', 'mmlu']] as const) {
      const c = resolveConfig({ file: bundledConfigPath(name), overrides: { model: { path: '/models/llama' } } });
      expect(c.data.task).toBe(task);
      expect(c.model).toEqual(expect.objectContaining({ path: '/models/llama', dtype: 'bfloat16' }));
      expect(c.optim.lr).toBe(1e-6);
      expect(c.generation.maxNewTokens).toBe(512);
      expect(c.grpo.lossType).toBe('dapo');
    }
  });

  test('configToYaml round-trips through resolveConfig', () => {
    const c = resolveConfig({ overrides: ['name=x', 'grpo.epsilonHigh=0.28', 'rewards.custom=[{"module":"m.js","name":"f","weight":2}]'] });
    const file = writeFile('round.yaml', configToYaml(c));
    expect(resolveConfig({ file })).toEqual(c);
  });
});
