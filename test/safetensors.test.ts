// safetensors save/load: round trips, hand-built files, malformed files, atomic saves, copy-on-write loads.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { DTYPES, Dtype, Tensor, load, optim, save, tensor, zeros } from '../src';
import { native } from '../src/native';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-safetensors-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const file = (name: string): string => path.join(dir, name);
const tempFiles = (): string[] => fs.readdirSync(dir).filter((f) => f.includes('.tmp-'));

/** A safetensors file from a header (object or raw JSON text) and data bytes; the length field can lie. */
function rawFile(name: string, header: object | string | Buffer, data: Buffer = Buffer.alloc(0), length?: bigint): string {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(length ?? BigInt(json.length));
  fs.writeFileSync(file(name), Buffer.concat([len, json, data]));
  return file(name);
}

function sample(dtype: Dtype): Tensor {
  if (dtype === 'bool') return tensor([[true, false, true], [false, false, true]]);
  if (dtype === 'int64') return tensor(BigInt64Array.from([2n ** 62n, -5n, 0n, 7n, -(2n ** 40n), 1n]), { shape: [2, 3] });
  if (dtype === 'uint8') return tensor([[0, 255, 7], [128, 1, 64]], { dtype });
  if (dtype === 'int32') return tensor([[-(2 ** 31), 5, 0], [7, 2 ** 31 - 1, -1]], { dtype });
  return tensor([[1.5, -2.25, 0], [1 / 3, 1e-3, -7]], { dtype });
}

function scalar(dtype: Dtype): Tensor {
  return dtype === 'bool' ? tensor(true) : tensor(3, { dtype });
}

function expectSame(actual: Tensor, expected: Tensor): void {
  expect(actual.dtype).toBe(expected.dtype);
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.device).toBe('cpu');
  expect(actual.toArray()).toEqual(expected.toArray());
}

describe('round trip', () => {
  test.each(DTYPES)('%s: 2-d, 0-dim, empty and transposed tensors', (dtype) => {
    const record = {
      full: sample(dtype),
      scalar: scalar(dtype),
      empty: zeros([0, 3], { dtype }),
      transposed: sample(dtype).transpose(0, 1),
    };
    expect(record.scalar.shape).toEqual([]);
    save(file(`rt-${dtype}.safetensors`), record);
    const { tensors, metadata } = load(file(`rt-${dtype}.safetensors`));
    expect(Object.keys(tensors).sort()).toEqual(['empty', 'full', 'scalar', 'transposed']);
    expect(metadata).toEqual({});
    for (const name of Object.keys(record) as (keyof typeof record)[]) expectSame(tensors[name], record[name]);
    const rows = record.full.toArray() as unknown[][];
    expect(tensors.transposed.toArray()).toEqual([0, 1, 2].map((j) => rows.map((r) => r[j])));
  });

  test('mixed dtypes in one file keep their values', () => {
    const record: Record<string, Tensor> = {};
    for (const d of DTYPES) record[`t_${d}`] = sample(d);
    record.odd = tensor([1, 2, 3], { dtype: 'float16' }); // 6 bytes: a naive layout would misalign what follows
    save(file('mixed.safetensors'), record);
    const { tensors } = load(file('mixed.safetensors'));
    for (const name of Object.keys(record)) expectSame(tensors[name], record[name]);
    expect(tensors.t_int64.toArray()).toEqual([[2n ** 62n, -5, 0], [7, -(2 ** 40), 1]]);
  });

  test('metadata round trip, with escapes and non-ASCII text', () => {
    const metadata = { format: 'pt', 'ключ é': 'quote " backslash \\ newline \n tab \t ✓ 𝄞', empty: '', __proto__x: 'p' };
    save(file('meta.safetensors'), { w: tensor([1, 2]) }, metadata);
    expect(load(file('meta.safetensors')).metadata).toEqual(metadata);
  });

  test('a tensor named __proto__ stays an ordinary entry', () => {
    const record: Record<string, Tensor> = {};
    Object.defineProperty(record, '__proto__', { value: tensor([4, 5]), enumerable: true });
    save(file('proto.safetensors'), record);
    const { tensors } = load(file('proto.safetensors'));
    expect(Object.keys(tensors)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(tensors, '__proto__')!.value.toArray()).toEqual([4, 5]);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
  });

  test('the written file follows the format: padded header, aligned contiguous data, little-endian bytes', () => {
    save(file('format.safetensors'), { b: tensor([1, 0, 1], { dtype: 'uint8' }), a: tensor([1.5, -2], { dtype: 'float64' }), c: tensor([0.25]) }, { k: 'v' });
    const bytes = fs.readFileSync(file('format.safetensors'));
    const n = Number(bytes.readBigUInt64LE(0));
    expect(n % 8).toBe(0);
    const text = bytes.subarray(8, 8 + n).toString('utf8');
    expect(text.startsWith('{')).toBe(true);
    const header = JSON.parse(text);
    expect(header.__metadata__).toEqual({ k: 'v' });
    expect(header.a).toEqual({ dtype: 'F64', shape: [2], data_offsets: [0, 16] });
    expect(header.c).toEqual({ dtype: 'F32', shape: [1], data_offsets: [16, 20] });
    expect(header.b).toEqual({ dtype: 'U8', shape: [3], data_offsets: [20, 23] });
    const data = bytes.subarray(8 + n);
    expect(data.length).toBe(23);
    expect(data.readDoubleLE(0)).toBe(1.5);
    expect(data.readDoubleLE(8)).toBe(-2);
    expect(data.readFloatLE(16)).toBe(0.25);
    expect([...data.subarray(20)]).toEqual([1, 0, 1]);
  });

  test('load() with device cpu gives the same values; saved parameters load without requiresGrad', () => {
    save(file('dev.safetensors'), { w: tensor([1, 2, 3], { requiresGrad: true }) });
    const { tensors } = load(file('dev.safetensors'), { device: 'cpu' });
    expect(tensors.w.toArray()).toEqual([1, 2, 3]);
    expect(tensors.w.requiresGrad).toBe(false);
  });
});

describe('hand-built files', () => {
  test('reads a file written byte by byte, including \\u escapes and a misaligned entry', () => {
    const data = Buffer.alloc(1 + 16 + 24 + 2);
    data.writeUInt8(9, 0); // u8 at [0, 1]: pushes the next entry to an odd offset, so it must be copied
    [1, -2, 3.5, 0.25].forEach((v, i) => data.writeFloatLE(v, 1 + 4 * i));
    [1n, -1n, 2n ** 40n].forEach((v, i) => data.writeBigInt64LE(v, 17 + 8 * i));
    data.writeUInt8(1, 41);
    data.writeUInt8(0, 42);
    const header =
      '{"__metadata__":{"k":"v\\u00e9"},' +
      '"u":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},' +
      '"w":{"dtype":"F32","shape":[2,2],"data_offsets":[1,17]},' +
      '"caf\\u00e9 \\ud834\\udd1e":{"dtype":"I64","shape":[3],"data_offsets":[17,41]},' +
      '"m":{"dtype":"BOOL","shape":[2],"data_offsets":[41,43],"extra":"ignored"}}';
    // Pad to a multiple of 8 so the data section is aligned and "w" at offset 1 is certainly misaligned.
    const padded = header.padEnd(Math.ceil(header.length / 8) * 8, ' '); // ASCII: length is the byte count
    expect(Buffer.byteLength(padded) % 8).toBe(0);
    const { tensors, metadata } = load(rawFile('hand.safetensors', padded, data));
    expect(metadata).toEqual({ k: 'vé' });
    expect(Object.keys(tensors)).toEqual(['u', 'w', 'café 𝄞', 'm']);
    expect(tensors.u.toArray()).toEqual([9]);
    expect(tensors.w.dtype).toBe('float32');
    expect(tensors.w.toArray()).toEqual([[1, -2], [3.5, 0.25]]);
    expect(tensors['café 𝄞'].toArray()).toEqual([1, -1, 2 ** 40]);
    expect(tensors.m.toArray()).toEqual([true, false]);
  });

  test('a header with no tensors gives an empty record', () => {
    const { tensors, metadata } = load(rawFile('none.safetensors', '{}      '));
    expect(tensors).toEqual({});
    expect(metadata).toEqual({});
  });
});

describe('malformed files raise clear errors', () => {
  const f32 = { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] };
  const sixteen = Buffer.alloc(16);

  test('missing file and directory', () => {
    expect(() => load(file('does-not-exist.safetensors'))).toThrow(/cannot open file '.*does-not-exist.safetensors': No such file/);
    expect(() => load(dir)).toThrow(/cannot open file .*it is a directory/);
  });

  test('empty and truncated files', () => {
    fs.writeFileSync(file('empty.safetensors'), Buffer.alloc(0));
    expect(() => load(file('empty.safetensors'))).toThrow(/^invalid safetensors file '.*empty.safetensors': the file is empty$/);
    fs.writeFileSync(file('tiny.safetensors'), Buffer.from([1, 2, 3, 4, 5]));
    expect(() => load(file('tiny.safetensors'))).toThrow(/the file is 5 bytes, too short for the 8-byte header length/);

    save(file('good.safetensors'), { w: tensor([1, 2, 3, 4]) });
    const good = fs.readFileSync(file('good.safetensors'));
    fs.writeFileSync(file('cut-data.safetensors'), good.subarray(0, good.length - 3));
    expect(() => load(file('cut-data.safetensors'))).toThrow(/tensor "w": data_offsets \[0, 16\] reach beyond the data section of 13 bytes/);
    fs.writeFileSync(file('cut-header.safetensors'), good.subarray(0, 20));
    expect(() => load(file('cut-header.safetensors'))).toThrow(/invalid safetensors file .*header length \d+ exceeds file size 20/);
  });

  test('header length larger than the file', () => {
    const p = rawFile('long.safetensors', { w: f32 }, sixteen, 9999999n);
    const size = fs.statSync(p).size;
    expect(() => load(p)).toThrow(new RegExp(`^invalid safetensors file '.*long.safetensors': header length 9999999 exceeds file size ${size}$`));
    expect(() => load(rawFile('huge.safetensors', { w: f32 }, sixteen, 2n ** 64n - 1n))).toThrow(/header length 18446744073709551615 exceeds file size/);
  });

  test('bad JSON', () => {
    expect(() => load(rawFile('json1.safetensors', '{"w": {"dtype": "F32",}}', sixteen))).toThrow(
      /invalid safetensors file .*header is not valid JSON: expected a string key but found character '}' at byte 22 of the header/,
    );
    expect(() => load(rawFile('json2.safetensors', '{"w": 1} trailing', sixteen))).toThrow(/not valid JSON: unexpected character 't' after the JSON value at byte 9/);
    expect(() => load(rawFile('json3.safetensors', '{"a": 1, "a": 2}'))).toThrow(/not valid JSON: duplicate key "a" at byte 9/);
    expect(() => load(rawFile('json4.safetensors', '{"a": "\\x"}'))).toThrow(/invalid escape sequence in string at byte 7/);
    expect(() => load(rawFile('json5.safetensors', '{"__metadata__": ' + '['.repeat(100) + ']'.repeat(100) + '}'))).toThrow(/nesting deeper than 64 levels/);
    expect(() => load(rawFile('json6.safetensors', Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])))).toThrow(/invalid UTF-8 in string/);
    expect(() => load(rawFile('json7.safetensors', '{"a": "\\ud800"}'))).toThrow(/high surrogate in \\u escape not followed by a low surrogate/);
    expect(() => load(rawFile('json8.safetensors', '{"a": 01}'))).toThrow(/leading zero/);
    expect(() => load(rawFile('json9.safetensors', '[1, 2]'))).toThrow(/header must be a JSON object, got an array/);
    expect(() => load(rawFile('json10.safetensors', ''))).toThrow(/not valid JSON: empty JSON text at byte 0/);
  });

  test('offsets out of range', () => {
    expect(() => load(rawFile('range.safetensors', { w: { ...f32, data_offsets: [0, 400] } }, sixteen))).toThrow(
      /tensor "w": data_offsets \[0, 400\] reach beyond the data section of 16 bytes/,
    );
    expect(() => load(rawFile('backwards.safetensors', { w: { ...f32, data_offsets: [16, 0] } }, sixteen))).toThrow(/end before they begin/);
    expect(() => load(rawFile('negative.safetensors', { w: { ...f32, data_offsets: [-16, 0] } }, sixteen))).toThrow(
      /'data_offsets' must hold non-negative integers/,
    );
    expect(() => load(rawFile('three.safetensors', { w: { ...f32, data_offsets: [0, 8, 16] } }, sixteen))).toThrow(/must be \[begin, end\]/);
  });

  test('byte count that does not match the shape', () => {
    expect(() => load(rawFile('count.safetensors', { w: { ...f32, data_offsets: [0, 12] } }, sixteen))).toThrow(
      /tensor "w": data_offsets \[0, 12\] span 12 bytes but shape \[2, 2\] of F32 needs 16/,
    );
    expect(() => load(rawFile('huge-shape.safetensors', { w: { ...f32, shape: [2 ** 40, 2 ** 40] } }, sixteen))).toThrow(/shape .* is too large/);
  });

  test('unknown or unsupported dtype', () => {
    expect(() => load(rawFile('i16.safetensors', { w: { ...f32, dtype: 'I16', shape: [8] } }, sixteen))).toThrow(
      /^unsupported dtype in safetensors file '.*i16.safetensors': tensor "w" has dtype "I16"; atman-native reads F32, F16, BF16, F64, I64, I32, BOOL, U8$/,
    );
    expect(() => load(rawFile('nodtype.safetensors', { w: { shape: [4], data_offsets: [0, 16] } }, sixteen))).toThrow(/tensor "w": 'dtype' is missing/);
  });

  test('other invalid entries', () => {
    const overlap = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } };
    expect(() => load(rawFile('overlap.safetensors', overlap, sixteen))).toThrow(/tensors "a" and "b" overlap in the data section \(\[0, 8\] and \[4, 12\]\)/);
    expect(() => load(rawFile('negshape.safetensors', { w: { ...f32, shape: [-2, -2] } }, sixteen))).toThrow(/'shape' must hold non-negative integers/);
    expect(() => load(rawFile('floatshape.safetensors', { w: { ...f32, shape: [2.5, 2] } }, sixteen))).toThrow(/'shape' must hold non-negative integers/);
    expect(() => load(rawFile('entry.safetensors', { w: [1, 2] }, sixteen))).toThrow(/tensor "w" must be described by an object, got an array/);
    expect(() => load(rawFile('meta1.safetensors', { __metadata__: { n: 1 } }))).toThrow(/'__metadata__' must map strings to strings, but key "n" holds a number/);
    expect(() => load(rawFile('meta2.safetensors', { __metadata__: 'x' }))).toThrow(/'__metadata__' must be an object/);
    const bools = Buffer.from([1, 0, 2]);
    expect(() => load(rawFile('bool.safetensors', { m: { dtype: 'BOOL', shape: [3], data_offsets: [0, 3] } }, bools))).toThrow(
      /tensor "m" of dtype BOOL holds the byte 2 at element 2; only 0 and 1 are valid/,
    );
  });

  test('bad arguments are TypeErrors', () => {
    expect(() => load(123 as unknown as string)).toThrow(TypeError);
    expect(() => load('')).toThrow(/path must be a non-empty string/);
    expect(() => load(file('x\0y'))).toThrow(/NUL character/);
    expect(() => load(file('x'), { device: 5 as unknown as string })).toThrow(/device must be a string/);
    save(file('args.safetensors'), { w: tensor([1]) });
    expect(() => load(file('args.safetensors'), { device: 'tpu' })).toThrow(/unknown device 'tpu'/);
  });
});

describe('failed saves', () => {
  const target = (): string => file('keep.safetensors');
  let original: Buffer;
  beforeEach(() => {
    save(target(), { w: tensor([1, 2, 3]) }, { v: '1' });
    original = fs.readFileSync(target());
  });
  afterEach(() => {
    expect(fs.readFileSync(target()).equals(original)).toBe(true);
    expect(tempFiles()).toEqual([]);
  });

  test('invalid names', () => {
    expect(() => save(target(), { '': tensor([1]) })).toThrow(/invalid tensor name: safetensors tensor names must be non-empty/);
    expect(() => save(target(), { __metadata__: tensor([1]) })).toThrow(/reserves it for the metadata/);
    const h = tensor([1]).handle;
    expect(() => native.saveSafetensors(target(), ['a', 'a'], [h, h], {})).toThrow(/duplicate tensor name "a"/);
  });

  test('non-tensor values and bad metadata', () => {
    expect(() => save(target(), { w: tensor([1]), x: [1, 2] as unknown as Tensor })).toThrow(/record\['x'\] must be a Tensor/);
    expect(() => save(target(), { w: tensor([1]) }, { n: 1 as unknown as string })).toThrow(/metadata\['n'\] must be a string/);
    expect(() => save(target(), null as unknown as Record<string, Tensor>)).toThrow(TypeError);
    const disposed = tensor([1]);
    disposed.dispose();
    expect(() => save(target(), { w: disposed })).toThrow(/disposed tensor/);
  });

  test('a directory that does not exist', () => {
    expect(() => save(file('no/such/dir/x.safetensors'), { w: tensor([1]) })).toThrow(
      /cannot write file '.*no\/such\/dir\/x.safetensors': creating the temporary file .* failed \(No such file or directory\)/,
    );
  });

  test('a target that is a directory fails at the rename and removes the temporary file', () => {
    fs.mkdirSync(file('a-directory'), { recursive: true });
    expect(() => save(file('a-directory'), { w: tensor([1, 2]) })).toThrow(/renaming the temporary file over it failed \(Is a directory\)/);
    expect(fs.readdirSync(file('a-directory'))).toEqual([]);
  });

  test('a successful save replaces the file and leaves no temporary file', () => {
    const next = file('replace.safetensors');
    save(next, { w: tensor([1]) });
    save(next, { w: tensor([5, 6]) });
    expect(load(next).tensors.w.toArray()).toEqual([5, 6]);
    expect(tempFiles()).toEqual([]);
  });
});

describe('loaded tensors never write the file', () => {
  test('loading twice gives identical values and leaves the bytes unchanged', () => {
    const p = file('cow.safetensors');
    save(p, { w: tensor([[1, 2], [3, 4]]), b: tensor([0.5, -0.5]) });
    const before = fs.readFileSync(p);
    const first = load(p).tensors;
    const second = load(p).tensors;
    for (const name of ['w', 'b']) expect(first[name].toArray()).toEqual(second[name].toArray());
    expect(fs.readFileSync(p).equals(before)).toBe(true);
  });

  test('an optimizer step updates a loaded tensor in place without touching the file or other loads', () => {
    const p = file('cow-optim.safetensors');
    save(p, { w: tensor([1, 2, 3, 4]) });
    const before = fs.readFileSync(p);
    const w = load(p).tensors.w.requiresGrad_();
    const opt = new optim.AdamW([w], { lr: 0.5, weightDecay: 0 });
    w.mul(w).sum().backward();
    opt.step();
    const updated = w.toArray() as number[];
    updated.forEach((v, i) => expect(v).toBeCloseTo(i + 1 - 0.5, 5)); // AdamW's first step moves by lr
    expect(fs.readFileSync(p).equals(before)).toBe(true);
    expect(load(p).tensors.w.toArray()).toEqual([1, 2, 3, 4]);
  });

  test('saving over a file whose tensors are alive keeps them valid', () => {
    const p = file('overwrite.safetensors');
    save(p, { w: tensor([7, 8, 9]) });
    const old = load(p).tensors.w;
    save(p, { w: tensor([1, 1, 1]) });
    expect(old.toArray()).toEqual([7, 8, 9]);
    expect(load(p).tensors.w.toArray()).toEqual([1, 1, 1]);
  });
});

describe('Hugging Face reference fixture', () => {
  // Written by scripts/make_safetensors_fixture.py with safetensors.torch.save_file.
  const fixtures = path.join(__dirname, 'fixtures', 'safetensors');

  test('hf_all_dtypes.safetensors matches hf_all_dtypes.json', () => {
    const jsonPath = path.join(fixtures, 'hf_all_dtypes.json');
    if (!fs.existsSync(jsonPath))
      throw new Error(`fixture missing: run 'python3 scripts/make_safetensors_fixture.py test/fixtures/safetensors' (needs torch, safetensors)`);
    const expected = JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as Record<string, { dtype: Dtype; shape: number[]; values: unknown }>;
    const { tensors, metadata } = load(path.join(fixtures, 'hf_all_dtypes.safetensors'));
    expect(metadata).toEqual({ format: 'pt', made_by: 'scripts/make_safetensors_fixture.py' });
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(expected).sort());
    expect(new Set(Object.values(expected).map((e) => e.dtype))).toEqual(new Set(DTYPES));
    for (const [name, e] of Object.entries(expected)) {
      expect([name, tensors[name].dtype]).toEqual([name, e.dtype]);
      expect([name, tensors[name].shape]).toEqual([name, e.shape]);
      expect([name, tensors[name].toArray()]).toEqual([name, e.values]);
    }
  });
});
