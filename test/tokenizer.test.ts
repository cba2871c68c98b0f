// Tokenizer and chat template on Llama-3.2-3B-Instruct: exact agreement with HF transformers (fixture made by
// scripts/make_tokenizer_fixture.py), round trips, special token ids, template structure, strftime, errors.
// Imports src/llm directly (not '../src'), so this suite needs no native build.
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';

import { strftime } from '../src/llm/strftime';
import { ChatMessage, Tokenizer } from '../src/llm/tokenizer';

// ../shared beside the checkout (developers, CI); on the GPU host scripts stage a copy into .gpu/shared.
const SHARED = [path.resolve(__dirname, '../../shared'), path.resolve(__dirname, '../.gpu/shared')].find((d) =>
  fs.existsSync(path.join(d, 'models')),
) ?? path.resolve(__dirname, '../../shared');
const MODEL = path.join(SHARED, 'models/llama-3.2-3b-instruct');
const GSM8K = path.join(SHARED, 'data/gsm8k/test.jsonl');
const FIXTURE = path.join(__dirname, 'fixtures/tokenizer/llama32_encodings.json');

const readJson = (file: string): Record<string, any> => JSON.parse(fs.readFileSync(file, 'utf8'));
const sha256 = (file: string): string => crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
const gsm8k = (): { question: string; answer: string }[] =>
  fs.readFileSync(GSM8K, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));

let tok: Tokenizer;
beforeAll(() => {
  tok = Tokenizer.fromDir(MODEL);
});

// ---------------------------------------------------------------------------------------------------------------
// Agreement with HF transformers
// ---------------------------------------------------------------------------------------------------------------

interface Decodes { ids: string; ids_skip: string; ids_special: string; ids_special_skip: string }
interface EncodeCase { ids: number[]; ids_special: number[]; decode?: Decodes }
interface Fixture {
  meta: { transformers: string; tokenizer_json_sha256: string; vocab_size: number; special_tokens_map: Record<string, string> };
  strings: (EncodeCase & { text: string; decode: Decodes; token_decodes?: string[] })[];
  gsm8k: { file_sha256: string; count: number; cases: EncodeCase[] };
  sweep: { ids: number[]; decode: string; decode_skip: string; token_decodes: string[] };
  chats: {
    name: string; messages: ChatMessage[]; add_generation_prompt: boolean;
    date_string?: string; now?: string; tools?: object[]; text: string; ids: number[];
  }[];
}

let fixtureCache: Fixture | undefined;
function fixture(): Fixture {
  if (fixtureCache) return fixtureCache;
  if (fs.existsSync(FIXTURE)) return (fixtureCache = JSON.parse(fs.readFileSync(FIXTURE, 'utf8')));
  if (fs.existsSync(FIXTURE + '.gz')) return (fixtureCache = JSON.parse(zlib.gunzipSync(fs.readFileSync(FIXTURE + '.gz')).toString('utf8')));
  throw new Error(
    `missing HF reference fixture ${FIXTURE}(.gz). Make it where Python transformers 5.x is installed (the GPU host): ` +
      'python3 scripts/make_tokenizer_fixture.py OUTDIR [TOKENIZER_DIR] [GSM8K_TEST_JSONL], then copy ' +
      'OUTDIR/tokenizer/llama32_encodings.json* to test/fixtures/tokenizer/ (see the script\'s docstring).',
  );
}

/** Every way `tok` can disagree with the HF case, as readable strings (empty when it agrees). */
function mismatches(label: string, text: string, c: EncodeCase, decodes: Decodes): string[] {
  const out: string[] = [];
  const ids = tok.encode(text, { addSpecialTokens: false });
  const idsSpecial = tok.encode(text, { addSpecialTokens: true });
  if (JSON.stringify(ids) !== JSON.stringify(c.ids)) out.push(`${label}: encode ${JSON.stringify(ids)} != HF ${JSON.stringify(c.ids)}`);
  if (JSON.stringify(idsSpecial) !== JSON.stringify(c.ids_special))
    out.push(`${label}: encode(addSpecialTokens) ${JSON.stringify(idsSpecial)} != HF ${JSON.stringify(c.ids_special)}`);
  const ours: Decodes = {
    ids: tok.decode(c.ids),
    ids_skip: tok.decode(c.ids, { skipSpecialTokens: true }),
    ids_special: tok.decode(c.ids_special),
    ids_special_skip: tok.decode(c.ids_special, { skipSpecialTokens: true }),
  };
  for (const key of Object.keys(decodes) as (keyof Decodes)[])
    if (ours[key] !== decodes[key]) out.push(`${label}: decode ${key} ${JSON.stringify(ours[key])} != HF ${JSON.stringify(decodes[key])}`);
  return out;
}

describe('agrees exactly with HF transformers (test/fixtures/tokenizer)', () => {
  test('the fixture was made from these tokenizer files', () => {
    const f = fixture();
    expect(f.meta.tokenizer_json_sha256).toBe(sha256(path.join(MODEL, 'tokenizer.json')));
    expect(tok.vocabSize).toBe(f.meta.vocab_size);
    expect(f.meta.special_tokens_map).toEqual({ bos_token: tok.bosToken, eos_token: tok.eosToken });
  });

  test('tricky strings: encode with and without special tokens, decode with and without skipping them', () => {
    const f = fixture();
    expect(f.strings.length).toBeGreaterThan(50);
    const bad = f.strings.flatMap((c) => mismatches(JSON.stringify(c.text).slice(0, 60), c.text, c, c.decode));
    expect(bad).toEqual([]);
  });

  test('single-token decodes (partial UTF-8 sequences)', () => {
    const cases = fixture().strings.filter((c) => c.token_decodes);
    expect(cases.length).toBeGreaterThan(3);
    for (const c of cases) expect(c.ids.map((id) => tok.decode([id]))).toEqual(c.token_decodes);
  });

  test('all GSM8K test questions', () => {
    const f = fixture();
    expect(f.gsm8k.file_sha256).toBe(sha256(GSM8K));
    const questions = gsm8k().map((r) => r.question);
    expect(questions.length).toBe(f.gsm8k.count);
    expect(f.gsm8k.cases.length).toBe(1319);
    const bad = questions.flatMap((q, i) => {
      // The script leaves the decodes out when they are the plain round trip; this is what it checked.
      const plain = { ids: q, ids_skip: q, ids_special: tok.bosToken + q, ids_special_skip: q };
      return mismatches(`question ${i}`, q, f.gsm8k.cases[i], f.gsm8k.cases[i].decode ?? plain);
    });
    expect(bad).toEqual([]);
  });

  test('a sweep over the whole vocabulary decodes alike', () => {
    const s = fixture().sweep;
    expect(s.ids[s.ids.length - 1]).toBeGreaterThan(128000); // reaches the added tokens
    expect(tok.decode(s.ids)).toBe(s.decode);
    expect(tok.decode(s.ids, { skipSpecialTokens: true })).toBe(s.decode_skip);
    expect(s.ids.map((id) => tok.decode([id]))).toEqual(s.token_decodes);
  });

  test('chat template: text and ids, with and without the generation prompt', () => {
    const chats = fixture().chats;
    expect(chats.length).toBeGreaterThanOrEqual(12);
    expect(chats.map((c) => c.name)).toEqual(expect.arrayContaining(['pinned_now', 'tools', 'multi_turn']));
    for (const c of chats) {
      // HF's tools argument is a template variable here.
      const tools = c.tools !== undefined ? { tools: c.tools } : {};
      const opts = c.date_string !== undefined ? { variables: { date_string: c.date_string, ...tools } } : { now: localDay(c.now!), variables: tools };
      const text = tok.applyChatTemplate(c.messages, { ...opts, addGenerationPrompt: c.add_generation_prompt });
      const ids = tok.applyChatTemplate(c.messages, { ...opts, addGenerationPrompt: c.add_generation_prompt, tokenize: true });
      expect({ name: c.name, gen: c.add_generation_prompt, text }).toEqual({ name: c.name, gen: c.add_generation_prompt, text: c.text });
      expect(ids).toEqual(c.ids);
    }
  });
});

/** Local midnight of 'YYYY-MM-DD' (Python's datetime.fromisoformat of a date). */
function localDay(day: string): Date {
  const [y, m, d] = day.split('-').map(Number);
  return new Date(y, m - 1, d);
}

// ---------------------------------------------------------------------------------------------------------------
// Without the fixture
// ---------------------------------------------------------------------------------------------------------------

const ROUND_TRIP = [
  '', ' ', '\n', '\t', '  \n\t  \r\n', 'Hello, world!', 'Hello , world !', ' leading', 'trailing ', 'a    b\t\tc\n\n\nd',
  '0', '12345678901234567890', '3.14159', '-1,234,567.89', '$2 per egg', '#### 18', '<<16-3-4=9>>9',
  'café', 'cafe\u0301', '日本語のテキスト', '中文，标点。', '한국어', 'Привет мир', 'مرحبا بالعالم', 'हिन्दी',
  '😀', '👨‍👩‍👧‍👦 family', '🏳️‍🌈', '👍🏽', '🇩🇪', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '\u200b\ufeff\u00a0\u3000', '\u0000\u0001\u007f',
  "I'm, you're, they've, don't, IT'S", 'def f(x):\n    return x**2\n', '{"k": [1, 2, null]}', 'C:\\path\\file',
  '<|eot_id|>', 'Hello<|eot_id|>world', '<|eot_id', '<|not_a_token|>', 'ab '.repeat(300), 'x'.repeat(5000),
];

describe('round trips', () => {
  test('decode(encode(x)) === x for many strings', () => {
    for (const x of ROUND_TRIP) {
      expect(tok.decode(tok.encode(x, { addSpecialTokens: false }))).toBe(x);
      expect(tok.decode(tok.encode(x), { skipSpecialTokens: true })).toBe(x.replace(/<\|eot_id\|>/g, ''));
      expect(tok.decode(tok.encode(x))).toBe('<|begin_of_text|>' + x);
    }
  });

  test('decode(encode(x)) === x for every GSM8K test question and answer', () => {
    const rows = gsm8k();
    expect(rows.length).toBe(1319);
    const bad = rows.flatMap((r) => [r.question, r.answer]).filter((x) => tok.decode(tok.encode(x, { addSpecialTokens: false })) !== x);
    expect(bad).toEqual([]);
  });

  test('special-token text in the input becomes the special token, as in HF', () => {
    expect(tok.encode('<|eot_id|>', { addSpecialTokens: false })).toEqual([128009]);
    expect(tok.encode('a<|eot_id|>b', { addSpecialTokens: false })).toContain(128009);
    expect(tok.encode('<|eot_id', { addSpecialTokens: false })).not.toContain(128009);
  });

  test('encode adds <|begin_of_text|> only with addSpecialTokens (the default)', () => {
    expect(tok.encode('')).toEqual([128000]);
    expect(tok.encode('', { addSpecialTokens: false })).toEqual([]);
    const ids = tok.encode('Hello world', { addSpecialTokens: false });
    expect(tok.encode('Hello world')).toEqual([128000, ...ids]);
    expect(tok.encode('Hello world', {})).toEqual([128000, ...ids]);
  });

  test('decode takes numbers, bigints and typed arrays; empty input decodes to ""', () => {
    const ids = tok.encode('Hello world');
    expect(tok.decode(Int32Array.from(ids))).toBe('<|begin_of_text|>Hello world');
    expect(tok.decode(BigInt64Array.from(ids.map(BigInt)), { skipSpecialTokens: true })).toBe('Hello world');
    expect(tok.decode([])).toBe('');
    expect(tok.decode([128000, 128009], { skipSpecialTokens: true })).toBe('');
  });

  test('a token that ends inside a UTF-8 sequence decodes to U+FFFD; the whole sequence decodes right', () => {
    const ids = tok.encode('😀', { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(1);
    expect(tok.decode(ids.slice(0, 1))).toContain('\ufffd');
    expect(tok.decode(ids)).toBe('😀');
  });
});

describe('special tokens', () => {
  const config = (): Record<string, any> => readJson(path.join(MODEL, 'tokenizer_config.json'));
  const generation = (): Record<string, any> => readJson(path.join(MODEL, 'generation_config.json'));
  const modelConfig = (): Record<string, any> => readJson(path.join(MODEL, 'config.json'));
  const added = (): Map<string, number> =>
    new Map(readJson(path.join(MODEL, 'tokenizer.json')).added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]));

  test('bos and eos are tokenizer_config.json\'s, ids from tokenizer.json', () => {
    const ids = added();
    expect(tok.bosToken).toBe(config().bos_token);
    expect(tok.eosToken).toBe(config().eos_token);
    expect(tok.bosTokenId).toBe(ids.get(config().bos_token));
    expect(tok.eosTokenId).toBe(ids.get(config().eos_token));
    expect(tok.bosTokenId).toBe(modelConfig().bos_token_id);
    expect([tok.bosTokenId, tok.eosTokenId]).toEqual([128000, 128009]);
  });

  test('eosTokenIds is generation_config.json\'s list (it includes the eos token)', () => {
    expect([...tok.eosTokenIds].sort()).toEqual([...generation().eos_token_id].sort());
    expect(tok.eosTokenIds).toContain(tok.eosTokenId);
    expect(Object.isFrozen(tok.eosTokenIds)).toBe(true);
  });

  test('eot is <|eot_id|>; pad (Llama 3 has none) is <|finetune_right_pad_id|>', () => {
    expect(config().pad_token).toBeUndefined();
    expect(tok.eotTokenId).toBe(added().get('<|eot_id|>'));
    expect(tok.padToken).toBe('<|finetune_right_pad_id|>');
    expect(tok.padTokenId).toBe(added().get('<|finetune_right_pad_id|>'));
    expect(tok.padTokenId).toBe(128004);
  });

  test('vocabSize is config.json\'s vocab_size; ids and tokens map both ways', () => {
    expect(tok.vocabSize).toBe(modelConfig().vocab_size);
    expect(tok.tokenToId('<|eot_id|>')).toBe(128009);
    expect(tok.idToToken(128009)).toBe('<|eot_id|>');
    expect(tok.idToToken(tok.vocabSize)).toBeUndefined();
    expect(tok.tokenToId('<|no such token|>')).toBeUndefined();
  });

  describe('from other configs', () => {
    let files: { tokenizer: string; config: Record<string, any> };
    beforeAll(() => {
      files = { tokenizer: fs.readFileSync(path.join(MODEL, 'tokenizer.json'), 'utf8'), config: config() };
    });

    test('a pad_token in tokenizer_config.json wins; without one and without the Llama 3 pad token, pad is eos', () => {
      const withPad = new Tokenizer({ tokenizer: JSON.parse(files.tokenizer), config: { ...files.config, pad_token: '<|end_of_text|>' } });
      expect([withPad.padToken, withPad.padTokenId]).toEqual(['<|end_of_text|>', 128001]);
      const tj = JSON.parse(files.tokenizer);
      tj.added_tokens = tj.added_tokens.filter((t: { content: string }) => t.content !== '<|finetune_right_pad_id|>');
      const { ['128004']: _dropped, ...decoder } = files.config.added_tokens_decoder;
      const noPad = new Tokenizer({ tokenizer: tj, config: { ...files.config, added_tokens_decoder: decoder } });
      expect([noPad.padToken, noPad.padTokenId]).toEqual(['<|eot_id|>', 128009]);
    });

    test('without generation_config.json, eosTokenIds is [eosTokenId]', () => {
      const t = new Tokenizer({ tokenizer: JSON.parse(files.tokenizer), config: files.config });
      expect(t.eosTokenIds).toEqual([128009]);
    });

    test('no chat_template: a clear error', () => {
      const { chat_template: _t, ...rest } = files.config;
      const t = new Tokenizer({ tokenizer: JSON.parse(files.tokenizer), config: rest });
      expect(t.chatTemplate).toBeNull();
      expect(() => t.applyChatTemplate([{ role: 'user', content: 'hi' }])).toThrow(/has no chat template/);
    });

    test('special tokens that are not in the vocabulary are errors', () => {
      expect(() => new Tokenizer({ tokenizer: JSON.parse(files.tokenizer), config: { ...files.config, eos_token: '<|nope|>' }, source: 'X' }))
        .toThrow(/tokenizer_config.json \(X\): eos_token '<\|nope\|>' is not in the vocabulary/);
      expect(() => new Tokenizer({ tokenizer: JSON.parse(files.tokenizer), config: files.config, generationConfig: { eos_token_id: [5, 999999] } }))
        .toThrow(/eos_token_id 999999 is not a token id/);
    });
  });
});

describe('chat template', () => {
  const system: ChatMessage = { role: 'system', content: 'You are a helpful math tutor.' };
  const user: ChatMessage = { role: 'user', content: 'What is 2 + 3?' };
  const assistant: ChatMessage = { role: 'assistant', content: '2 + 3 = 5.\n#### 5' };
  const pinned = { variables: { date_string: '26 Jul 2024' } };

  test('structure: bos, system header with the date, user turn, generation prompt at the end', () => {
    const text = tok.applyChatTemplate([system, user], { ...pinned, addGenerationPrompt: true });
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n' +
        'Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n' +
        'You are a helpful math tutor.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  test('without the generation prompt the text ends at the last <|eot_id|>; default is without', () => {
    const text = tok.applyChatTemplate([user, assistant], pinned);
    expect(text.startsWith('<|begin_of_text|>')).toBe(true);
    expect(text).toContain('<|start_header_id|>user<|end_header_id|>\n\nWhat is 2 + 3?<|eot_id|>');
    expect(text.endsWith('<|start_header_id|>assistant<|end_header_id|>\n\n2 + 3 = 5.\n#### 5<|eot_id|>')).toBe(true);
    expect(tok.applyChatTemplate([user, assistant], { ...pinned, addGenerationPrompt: false })).toBe(text);
    // No system message: the template still writes the system header (date only).
    expect(text).toContain('<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>');
  });

  test('contents are trimmed, as the template says', () => {
    const text = tok.applyChatTemplate([{ role: 'system', content: '  sys \n' }, { role: 'user', content: '\n hi  ' }], pinned);
    expect(text).toContain('\n\nsys<|eot_id|>');
    expect(text).toContain('<|end_header_id|>\n\nhi<|eot_id|>');
  });

  test('tokenize: the text encoded without adding special tokens (one <|begin_of_text|>)', () => {
    const opts = { ...pinned, addGenerationPrompt: true };
    const ids = tok.applyChatTemplate([system, user], { ...opts, tokenize: true });
    expect(ids).toEqual(tok.encode(tok.applyChatTemplate([system, user], opts), { addSpecialTokens: false }));
    expect(ids.filter((id) => id === 128000)).toEqual([128000]);
    expect(ids[0]).toBe(128000);
    expect(ids.slice(-4)).toEqual(tok.encode('<|start_header_id|>assistant<|end_header_id|>\n\n', { addSpecialTokens: false }));
  });

  test('the date: today by default (as HF), pinned with `now`; date_string wins', () => {
    const before = strftime(new Date(), '%d %b %Y');
    const text = tok.applyChatTemplate([user]);
    const after = strftime(new Date(), '%d %b %Y');
    expect([`Today Date: ${before}\n`, `Today Date: ${after}\n`].some((s) => text.includes(s))).toBe(true);
    expect(tok.applyChatTemplate([user], { now: new Date(2025, 0, 5) })).toContain('Today Date: 05 Jan 2025\n');
    expect(tok.applyChatTemplate([user], { now: new Date(2025, 0, 5), ...pinned })).toContain('Today Date: 26 Jul 2024\n');
  });

  test('variables pass to the template like HF kwargs (tools)', () => {
    const tool = { name: 'add', parameters: { a: 'int' } };
    const text = tok.applyChatTemplate([user], { variables: { ...pinned.variables, tools: [tool] } });
    expect(text).toContain('Environment: ipython\n');
    expect(text).toContain('"name": "add"');
  });

  test('errors: bad messages, bad options, raise_exception from the template', () => {
    expect(() => tok.applyChatTemplate('hi' as any)).toThrow(TypeError);
    expect(() => tok.applyChatTemplate([{ role: 'user' } as any])).toThrow(/messages\[0\]\.content must be a string/);
    expect(() => tok.applyChatTemplate([{ content: 'x' } as any])).toThrow(/messages\[0\]\.role must be a string/);
    expect(() => tok.applyChatTemplate([user], { addGenerationPrompt: 'yes' as any })).toThrow(TypeError);
    expect(() => tok.applyChatTemplate([user], { now: new Date(NaN) })).toThrow(/now must be a valid Date/);
    expect(() => tok.applyChatTemplate([user], { variables: { messages: [] } })).toThrow(/variables.messages is not allowed/);
    expect(() => tok.applyChatTemplate([], { variables: { tools: [{}] } }))
      .toThrow(/chat template failed: Cannot put tools in the first user message when there's no first user message!/);
  });
});

describe('strftime (Python C-locale semantics)', () => {
  // Expected strings from Python 3: datetime(...).strftime(FMT).
  const FMT = '%a %A %b %B %d %e %H %I %j %m %M %p %S %y %Y %% %-d %-m %-H %-I %-j';
  test.each([
    [new Date(2024, 0, 5, 14, 7, 9), 'Fri Friday Jan January 05  5 14 02 005 01 07 PM 09 24 2024 % 5 1 14 2 5'],
    [new Date(2025, 11, 31, 0, 0, 0), 'Wed Wednesday Dec December 31 31 00 12 365 12 00 AM 00 25 2025 % 31 12 0 12 365'],
    [new Date(2024, 6, 26, 12, 30, 0), 'Fri Friday Jul July 26 26 12 12 208 07 30 PM 00 24 2024 % 26 7 12 12 208'],
  ])('%s', (date, expected) => {
    expect(strftime(date, FMT)).toBe(expected);
  });

  test('an unsupported directive is an error naming it', () => {
    expect(() => strftime(new Date(), '%Q')).toThrow(/unsupported format directive '%Q'/);
  });
});

describe('errors', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-tokenizer-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('missing directory or files', () => {
    expect(() => Tokenizer.fromDir(path.join(dir, 'nope'))).toThrow(/tokenizer directory not found: .*nope/);
    expect(() => Tokenizer.fromDir('')).toThrow(TypeError);
    expect(() => Tokenizer.fromDir(undefined as any)).toThrow(TypeError);
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer.json not found in /);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{}');
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer_config.json not found in /);
  });

  test('malformed files', () => {
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{ not json');
    fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), '{}');
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer.json is not valid JSON/);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '[]');
    expect(() => Tokenizer.fromDir(dir)).toThrow(/tokenizer.json must hold a JSON object/);
    fs.writeFileSync(path.join(dir, 'tokenizer.json'), '{"model": {"type": "Nope"}}');
    expect(() => Tokenizer.fromDir(dir)).toThrow(/unsupported or malformed tokenizer.json/);
  });

  test('encode and decode arguments', () => {
    expect(() => tok.encode(42 as any)).toThrow(/encode\(\) text must be a string, got number/);
    expect(() => tok.encode('x', { addSpecialTokens: 1 as any })).toThrow(TypeError);
    expect(() => tok.decode('abc' as any)).toThrow(TypeError);
    expect(() => tok.decode([1.5])).toThrow(/ids\[0\] must be an integer/);
    expect(() => tok.decode([1, -1])).toThrow(RangeError);
    expect(() => tok.decode([tok.vocabSize])).toThrow(/ids\[0\] = 128256 is not a token id \(vocabulary size 128256\)/);
    expect(() => tok.decode([1], { skipSpecialTokens: 'no' as any })).toThrow(TypeError);
  });
});
