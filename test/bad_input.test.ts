// Bad input never crashes or hangs the process: files changed under a loaded model, model-folder files that are no
// regular files or far too large, chat templates that would run forever, config numbers that would silently give
// wrong results, and sequences longer than the model's positions.
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { LlamaModel, Tokenizer, load, noGrad, save, tensor } from '../src';
import { ChatTemplate, TEMPLATE_LIMITS } from '../src/llm/chat-template';
import { writeTinyLlama } from './llama_helpers';

const repo = path.join(__dirname, '..');
const TINY = path.join(repo, 'models', 'tiny-arith');
let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-bad-input-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

let counter = 0;
const fresh = (): string => path.join(root, `d${counter++}`);

function copyModel(from = TINY): string {
  const dir = fresh();
  fs.cpSync(from, dir, { recursive: true });
  return dir;
}

describe('a safetensors file truncated or overwritten under a running process', () => {
  test('load() tensors own their memory: truncating the file changes nothing', () => {
    const file = path.join(fresh() + '.safetensors');
    save(file, { w: tensor([1, 2, 3, 4]), b: tensor([true, false]) });
    const { tensors } = load(file);
    fs.truncateSync(file, 0);
    expect(tensors.w.toArray()).toEqual([1, 2, 3, 4]);
    expect(tensors.b.toArray()).toEqual([true, false]);
  });

  test('a LlamaModel keeps working after `cp` over its model.safetensors (truncate, then other bytes)', async () => {
    const dir = copyModel();
    const model = await LlamaModel.load(dir);
    const ids = tensor([[1, 20, 21, 22, 5]], { dtype: 'int64' });
    const before = noGrad(() => model.forward(ids).toArray());
    const weights = path.join(dir, 'model.safetensors');
    fs.truncateSync(weights, 0);
    fs.writeFileSync(weights, Buffer.alloc(4096, 0xff));
    expect(noGrad(() => model.forward(ids).toArray())).toEqual(before);
    model.dispose();
  });

  test('LlamaModel.load({mmap: true}) gives the same model (the mapped path still works)', async () => {
    const ids = tensor([[1, 20, 21, 22, 5]], { dtype: 'int64' });
    const owned = await LlamaModel.load(TINY);
    const mapped = await LlamaModel.load(TINY, { mmap: true });
    expect(noGrad(() => mapped.forward(ids).toArray())).toEqual(noGrad(() => owned.forward(ids).toArray()));
    await expect(LlamaModel.load(TINY, { mmap: 'yes' as never })).rejects.toThrow(/mmap must be a boolean/);
    owned.dispose();
    mapped.dispose();
  });

  // The mapped mode (an explicit option) keeps the documented risk; a child process (the compiled dist/, as the CLI
  // tests use) shows both modes, since the mapped one dies of SIGBUS.
  test('only the explicit mmap option maps the file (and then SIGBUS is the documented risk)', () => {
    const file = path.join(fresh() + '.safetensors');
    save(file, { w: tensor(Array.from({ length: 4096 }, (_, i) => i)) });
    const child = (mmap: boolean) =>
      spawnSync(
        process.execPath,
        ['-e', `
          const fs = require('fs');
          const { load } = require(${JSON.stringify(path.join(repo, 'dist'))});
          const copy = process.argv[1] + '.' + process.argv[2];
          fs.copyFileSync(process.argv[1], copy);
          const w = load(copy, { mmap: process.argv[2] === 'true' }).tensors.w;
          fs.truncateSync(copy, 0);
          console.log(w.sum().item());`, file, String(mmap)],
        { encoding: 'utf8', timeout: 60000 },
      );
    const owned = child(false);
    expect(owned.stderr).toBe('');
    expect(owned.stdout.trim()).toBe(String((4095 * 4096) / 2));
    expect(child(true).signal).toBe('SIGBUS');
  });
});

describe('model-folder files are read with limits', () => {
  test('config.json that is /dev/zero, a FIFO or larger than 16 MiB is refused at once', async () => {
    const dir = copyModel();
    const config = path.join(dir, 'config.json');
    fs.rmSync(config);
    fs.symlinkSync('/dev/zero', config);
    await expect(LlamaModel.load(dir)).rejects.toThrow(/cannot open file '.*config\.json': it is not a regular file/);
    fs.rmSync(config);
    execFileSync('mkfifo', [config]);
    await expect(LlamaModel.load(dir)).rejects.toThrow(/config\.json': it is not a regular file/);
    fs.rmSync(config);
    fs.writeFileSync(config, '');
    fs.truncateSync(config, 16 * 2 ** 20 + 1); // sparse: no disk used
    await expect(LlamaModel.load(dir)).rejects.toThrow(/config\.json '.*' is 16777217 bytes, more than the limit of 16 MiB/);
  });

  test('model.safetensors that is /dev/zero is refused', async () => {
    const dir = copyModel();
    fs.rmSync(path.join(dir, 'model.safetensors'));
    fs.symlinkSync('/dev/zero', path.join(dir, 'model.safetensors'));
    await expect(LlamaModel.load(dir)).rejects.toThrow(/model\.safetensors': it is not a regular file/);
  });

  test('tokenizer.json or tokenizer_config.json that is /dev/zero, a FIFO or too large is refused', () => {
    const dir = copyModel();
    const tok = path.join(dir, 'tokenizer.json');
    const text = fs.readFileSync(tok);
    fs.rmSync(tok);
    fs.symlinkSync('/dev/zero', tok);
    expect(() => Tokenizer.fromDir(dir)).toThrow(/cannot read tokenizer\.json in .*: it is not a regular file/);
    fs.rmSync(tok);
    execFileSync('mkfifo', [tok]);
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer\.json in .*: it is not a regular file/);
    fs.rmSync(tok);
    fs.writeFileSync(tok, '');
    fs.truncateSync(tok, 256 * 2 ** 20 + 1);
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer\.json in .* is 268435457 bytes, more than the limit of 256 MiB/);
    fs.writeFileSync(tok, text);
    const config = path.join(dir, 'tokenizer_config.json');
    fs.rmSync(config);
    fs.symlinkSync('/dev/zero', config);
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer_config\.json in .*: it is not a regular file/);
  });

  test('a directory where a file belongs is named as such', async () => {
    const dir = copyModel();
    fs.rmSync(path.join(dir, 'generation_config.json'));
    fs.mkdirSync(path.join(dir, 'generation_config.json'));
    expect(() => Tokenizer.fromDir(dir)).toThrow(/generation_config\.json in .*: it is a directory/);
  });
});

describe('chat templates are bounded', () => {
  const render = (source: string) => () => new ChatTemplate(source).render([{ role: 'user', content: 'hi' }], {});

  test('a huge range() is refused at once', () => {
    expect(render('{% for i in range(100000000) %}x{% endfor %}')).toThrow(
      /^chat template stopped: range\(\) of 100000000 numbers is more than the 100000 a chat template may make/,
    );
  });

  test('nested loops that would run for hours stop at the step budget', () => {
    expect(render('{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}')).toThrow(
      new RegExp(`^chat template stopped: it ran more than ${TEMPLATE_LIMITS.steps} steps`),
    );
  });

  test('a string or list that doubles every step stops at the size limits', () => {
    expect(render('{% set ns = namespace(s="x") %}{% for i in range(60) %}{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s }}')).toThrow(
      /^chat template stopped: it made a string of \d+ characters, more than 10000000/,
    );
    expect(render('{% set ns = namespace(l=[1]) %}{% for i in range(60) %}{% set ns.l = ns.l + ns.l %}{% endfor %}')).toThrow(
      /^chat template stopped: it made a list of \d+ items, more than 1000000/,
    );
  });

  test('endless recursion is an error, not a crash', () => {
    expect(render('{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}')).toThrow(/^chat template (failed|stopped)/);
  });

  test('real templates stay well inside the limits', () => {
    const tok = Tokenizer.fromDir(TINY);
    const messages = Array.from({ length: 200 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}` }));
    if (tok.chatTemplate !== null) expect(tok.applyChatTemplate(messages).length).toBeGreaterThan(1000);
    const llama3ish =
      '{{ bos_token }}{% for m in messages %}{{ "<|start_header_id|>" + m.role + "<|end_header_id|>\\n\\n" + m.content | trim + "<|eot_id|>" }}{% endfor %}';
    expect(new ChatTemplate(llama3ish).render(messages, { bos_token: '<s>' }).length).toBeGreaterThan(5000);
  });
});

describe('config.json numbers that would silently give wrong results are rejected', () => {
  test.each([
    ['rms_norm_eps', '1e999', /rms_norm_eps must be a positive finite number \(Llama uses 1e-5 or 1e-6\), got inf/],
    ['rms_norm_eps', '0', /rms_norm_eps must be a positive finite number .*got 0/],
    ['rms_norm_eps', '-1e-5', /rms_norm_eps must be a positive finite number/],
    ['rope_theta', '1e999', /rope_theta must be a positive finite number .*got inf/],
    ['max_position_embeddings', '0', /max_position_embeddings must be positive, got 0/],
    ['hidden_size', '4294967296', /larger than 2\^31 - 1/],
  ])('%s: %s', async (key, value, message) => {
    const dir = copyModel();
    const file = path.join(dir, 'config.json');
    // Written as text: JSON.stringify cannot write 1e999.
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(new RegExp(`"${key}": [^,\\n]+`), `"${key}": ${value}`));
    await expect(LlamaModel.load(dir)).rejects.toThrow(message);
  });

  test('llama3 rope factors must be positive finite numbers', async () => {
    const dir = fresh();
    writeTinyLlama(dir, {
      config: { rope_scaling: { rope_type: 'llama3', factor: -8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 32 } },
    });
    await expect(LlamaModel.load(dir)).rejects.toThrow(/the rope scaling factor must be a positive finite number, got -8/);
  });
});

describe('sequences longer than the model positions are rejected before running', () => {
  let model: LlamaModel;
  beforeAll(async () => {
    const dir = copyModel();
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"max_position_embeddings": \d+/, '"max_position_embeddings": 8'));
    model = await LlamaModel.load(dir);
  });
  afterAll(() => model.dispose());
  const ids = (n: number) => tensor([Array.from({ length: n }, (_, i) => 10 + i)], { dtype: 'int64' });

  test('forward, tokenLogprobs and prefix', () => {
    expect(noGrad(() => model.forward(ids(8)).shape)).toEqual([1, 8, 104]);
    const message = /^out of range: LlamaModel forward\(\) got a sequence of 9 tokens, more than the model's 8 positions \(max_position_embeddings in config\.json\)/;
    expect(() => model.forward(ids(9))).toThrow(message);
    expect(() => model.tokenLogprobs(ids(9))).toThrow(message);
    expect(() => model.prefix(ids(9))).toThrow(/prefix\(\) got a sequence of 9 tokens/);
    const past = model.prefix(ids(5));
    expect(() => model.forward(ids(4), { past })).toThrow(/got a sequence of 9 tokens/);
    expect(noGrad(() => model.forward(ids(3), { past }).shape)).toEqual([1, 3, 104]);
  });

  test('generate() rejects a prompt longer than the positions', async () => {
    await expect(model.generate([Array.from({ length: 9 }, () => 10)], { maxNewTokens: 1 })).rejects.toThrow(
      /generate\(\) prompt got a sequence of 9 tokens, more than the model's 8 positions/,
    );
  });

  test('keyStart beyond the sequence is rejected, not answered with zeros', () => {
    expect(() => model.forward(ids(4), { keyStart: tensor([5], { dtype: 'int64' }) })).toThrow(
      /^index out of range: keyStart must be in \[0, 4\]/,
    );
  });
});
