// Creation functions, dtypes, conversion and reading values back (CPU).
import {
  DTYPES,
  Tensor,
  arange,
  buildInfo,
  cuda,
  empty,
  full,
  manualSeed,
  ones,
  rand,
  randint,
  randn,
  tensor,
  zeros,
} from '../src';
import { expectClose, expectTyped, f32, flat, kind } from './helpers';

describe('tensor()', () => {
  test('nested numbers default to float32 with the nesting as shape', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(t.dtype).toBe('float32');
    expect(t.shape).toEqual([2, 3]);
    expect(t.ndim).toBe(2);
    expect(t.numel).toBe(6);
    expect(t.device).toBe('cpu');
    expect(t.requiresGrad).toBe(false);
    expect(t.grad).toBeNull();
    expect(t.isDisposed).toBe(false);
    expect(t.toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  test('three levels of nesting come back as three levels', () => {
    const data = [
      [[1], [2]],
      [[3], [4]],
      [[5], [6]],
    ];
    const t = tensor(data);
    expect(t.shape).toEqual([3, 2, 1]);
    expect(t.toArray()).toEqual(data);
  });

  test('a single number is a 0-dim tensor; toArray and item give the number', () => {
    const t = tensor(2.5);
    expect(t.shape).toEqual([]);
    expect(t.ndim).toBe(0);
    expect(t.numel).toBe(1);
    expect(t.toArray()).toBe(2.5);
    expect(t.item()).toBe(2.5);
  });

  test('empty arrays give a [0] tensor', () => {
    const t = tensor([]);
    expect(t.shape).toEqual([0]);
    expect(t.numel).toBe(0);
    expect(t.toArray()).toEqual([]);
    expect(zeros([2, 0]).toArray()).toEqual([[], []]);
  });

  test('booleans give bool, bigints give int64', () => {
    const b = tensor([true, false, true]);
    expect(b.dtype).toBe('bool');
    expect(b.toArray()).toEqual([true, false, true]);
    expectTyped(b.dataSync(), 'Uint8Array', [1, 0, 1]);
    const i = tensor([1n, -2n, 3n]);
    expect(i.dtype).toBe('int64');
    expect(i.toArray()).toEqual([1, -2, 3]);
  });

  test('TypedArrays keep their dtype and take opts.shape', () => {
    const cases: [ArrayLike<number | bigint> & ArrayBufferView, string][] = [
      [new Float32Array([1, 2, 3, 4, 5, 6]), 'float32'],
      [new Float64Array([1, 2, 3, 4, 5, 6]), 'float64'],
      [new Int32Array([1, 2, 3, 4, 5, 6]), 'int32'],
      [new BigInt64Array([1n, 2n, 3n, 4n, 5n, 6n]), 'int64'],
      [new Uint8Array([1, 2, 3, 4, 5, 6]), 'uint8'],
    ];
    for (const [data, dtype] of cases) {
      const t = tensor(data as Float32Array, { shape: [3, 2] });
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual([3, 2]);
      expect(t.toArray()).toEqual([
        [1, 2],
        [3, 4],
        [5, 6],
      ]);
    }
  });

  test('a TypedArray without shape is 1-D, and a subarray view reads only its window', () => {
    const buf = new Float32Array([9, 1, 2, 3, 9]);
    const t = tensor(buf.subarray(1, 4));
    expect(t.shape).toEqual([3]);
    expect(t.toArray()).toEqual([1, 2, 3]);
  });

  test('data is copied: changing the source afterwards does not change the tensor', () => {
    const src = new Float32Array([1, 2, 3]);
    const t = tensor(src);
    src[0] = 100;
    expect(t.toArray()).toEqual([1, 2, 3]);
  });

  test('flat arrays take opts.shape', () => {
    expect(tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3] }).toArray()).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
  });

  test('opts.dtype converts numbers; integer dtypes truncate toward zero like torch', () => {
    expect(tensor([1.5, -2.5, 3], { dtype: 'int64' }).toArray()).toEqual([1, -2, 3]);
    expect(tensor([1.9, -1.9], { dtype: 'int32' }).toArray()).toEqual([1, -1]);
    expect(tensor([0, 255, 7.9], { dtype: 'uint8' }).toArray()).toEqual([0, 255, 7]);
    expect(tensor([0, 2, -1], { dtype: 'bool' }).toArray()).toEqual([false, true, true]);
    expect(tensor([1, 0], { dtype: 'float64' }).dtype).toBe('float64');
  });

  test('requiresGrad option makes a leaf that requires grad', () => {
    const t = tensor([1, 2], { requiresGrad: true });
    expect(t.requiresGrad).toBe(true);
    expect(t.isLeaf).toBe(true);
    expect(t.grad).toBeNull();
  });
});

describe('dtypes', () => {
  test('every dtype of the contract round-trips small integers', () => {
    for (const dtype of DTYPES) {
      const t = tensor([0, 1, 1, 0], { dtype });
      expect(t.dtype).toBe(dtype);
      const expected = dtype === 'bool' ? [false, true, true, false] : [0, 1, 1, 0];
      expect(t.toArray()).toEqual(expected);
    }
  });

  test('dataSync gives the TypedArray of each dtype; bf16 and fp16 read as Float32Array', () => {
    const kinds: Record<string, string> = {
      float32: 'Float32Array',
      float16: 'Float32Array',
      bfloat16: 'Float32Array',
      float64: 'Float64Array',
      int64: 'BigInt64Array',
      int32: 'Int32Array',
      bool: 'Uint8Array',
      uint8: 'Uint8Array',
    };
    for (const dtype of DTYPES) {
      const data = zeros([3], { dtype }).dataSync();
      expect(kind(data)).toBe(kinds[dtype]);
      expect(data.length).toBe(3);
    }
  });

  test('bfloat16 round trip: exactly representable values survive, others round to 8 bits of mantissa', () => {
    const exact = [0, 1, -2, 0.5, 0.25, 1.5, -3.75, 256, 1024, -65536, 2 ** -10, 1.0078125];
    const t = tensor(exact, { dtype: 'bfloat16' });
    expect(t.dtype).toBe('bfloat16');
    const read = t.dataSync();
    expect(kind(read)).toBe('Float32Array');
    expect(flat(read)).toEqual(exact);
    expect(t.toArray()).toEqual(exact);
    // 1 + 2^-9 is between bf16 neighbours 1 and 1 + 2^-7: it rounds to 1 (round to nearest even).
    expect(tensor([1 + 2 ** -9, 257], { dtype: 'bfloat16' }).toArray()).toEqual([1, 256]);
    // Back to float32 and float64 unchanged.
    expect(t.float().toArray()).toEqual(exact);
    expect(t.to('float64').toArray()).toEqual(exact);
    expect(tensor(exact).bfloat16().toArray()).toEqual(exact);
  });

  test('float16 round trip: exactly representable values survive', () => {
    const exact = [0, 1, -2, 0.5, 1.5, 0.333251953125, 2048, 65504, -65504, 2 ** -14];
    const t = tensor(exact, { dtype: 'float16' });
    expect(t.dtype).toBe('float16');
    expect(kind(t.dataSync())).toBe('Float32Array');
    expect(t.toArray()).toEqual(exact);
    // 2049 is not a float16: it rounds to 2048 (ties to even).
    expect(tensor([2049], { dtype: 'float16' }).toArray()).toEqual([2048]);
    expect(t.float().half().to('float64').toArray()).toEqual(exact);
  });

  test('float32 stores float32 roundings, float64 keeps doubles', () => {
    expect(tensor([0.1]).toArray()).toEqual([f32(0.1)]);
    expect(tensor([0.1], { dtype: 'float64' }).toArray()).toEqual([0.1]);
    expect(tensor(new Float64Array([Math.PI])).item()).toBe(Math.PI);
  });

  test('int64 beyond 2^53 comes back as bigint, within it as numbers', () => {
    const big = 2n ** 60n + 7n;
    const t = tensor([big, -big, 5n, BigInt(Number.MAX_SAFE_INTEGER)]);
    expect(t.dtype).toBe('int64');
    expect(t.toArray()).toEqual([big, -big, 5, Number.MAX_SAFE_INTEGER]);
    expectTyped(t.dataSync(), 'BigInt64Array', [big, -big, 5n, BigInt(Number.MAX_SAFE_INTEGER)]);
    expect(tensor([big]).item()).toBe(big);
    expect(tensor([7n]).item()).toBe(7);
    expect(tensor([2n ** 63n - 1n]).toArray()).toEqual([2n ** 63n - 1n]);
    expect(tensor([-(2n ** 63n)]).toArray()).toEqual([-(2n ** 63n)]);
    // Arithmetic on int64 stays exact beyond 2^53.
    expect(tensor([big]).add(1).toArray()).toEqual([big + 1n]);
  });

  test('bool tensors: item gives booleans, sum counts trues', () => {
    const b = tensor([true, false, true, true]);
    expect(b.narrow(0, 1, 1).item()).toBe(false);
    expect(b.sum().item()).toBe(3);
    expect(b.sum().dtype).toBe('int64');
    expect(b.to('float32').toArray()).toEqual([1, 0, 1, 1]);
    expect(tensor([0, 3, 0]).to('bool').toArray()).toEqual([false, true, false]);
  });

  test('uint8 and int32 values', () => {
    expectTyped(tensor([0, 200, 255], { dtype: 'uint8' }).dataSync(), 'Uint8Array', [0, 200, 255]);
    expectTyped(tensor([-2147483648, 2147483647], { dtype: 'int32' }).dataSync(), 'Int32Array', [-2147483648, 2147483647]);
  });
});

describe('conversion', () => {
  test('to(dtype), to(device), to({device, dtype}), cpu(), float(), bfloat16(), double(), long(), int(), bool()', () => {
    const t = tensor([1.75, -2, 0]);
    expect(t.to('float64').dtype).toBe('float64');
    expect(t.to('float64').toArray()).toEqual([1.75, -2, 0]);
    expect(t.to('cpu').device).toBe('cpu');
    expect(t.to('cpu').toArray()).toEqual([1.75, -2, 0]);
    const both = t.to({ device: 'cpu', dtype: 'int32' });
    expect(both.dtype).toBe('int32');
    expect(both.toArray()).toEqual([1, -2, 0]);
    expect(t.cpu().toArray()).toEqual([1.75, -2, 0]);
    expect(t.long().toArray()).toEqual([1, -2, 0]);
    expect(t.long().dtype).toBe('int64');
    expect(t.int().dtype).toBe('int32');
    expect(t.bool().toArray()).toEqual([true, true, false]);
    expect(t.double().float().dtype).toBe('float32');
    expect(t.bfloat16().dtype).toBe('bfloat16');
    expect(t.bfloat16().toArray()).toEqual([1.75, -2, 0]);
    expect(t.half().dtype).toBe('float16');
    expect(tensor([3], { dtype: 'int64' }).float().toArray()).toEqual([3]);
  });

  test('to() returns a new tensor; the source keeps its dtype', () => {
    const t = tensor([1, 2]);
    const d = t.to('float64');
    expect(d).not.toBe(t);
    expect(t.dtype).toBe('float32');
  });

  test('item() of every dtype', () => {
    expect(tensor([1.5], { dtype: 'float64' }).item()).toBe(1.5);
    expect(tensor([1.5], { dtype: 'bfloat16' }).item()).toBe(1.5);
    expect(tensor([1.5], { dtype: 'float16' }).item()).toBe(1.5);
    expect(tensor([-7], { dtype: 'int32' }).item()).toBe(-7);
    expect(tensor([200], { dtype: 'uint8' }).item()).toBe(200);
    expect(tensor([true]).item()).toBe(true);
    expect(tensor([[4]]).item()).toBe(4);
  });

  test('data() resolves with the same values as dataSync()', async () => {
    const t = tensor([
      [1, 2],
      [3, 4],
    ]).to('bfloat16');
    const p = t.data();
    expect(kind(p)).toBe('Promise');
    const d = await p;
    expect(kind(d)).toBe('Float32Array');
    expect(flat(d)).toEqual([1, 2, 3, 4]);
    expectTyped(await tensor([5n, 2n ** 62n]).data(), 'BigInt64Array', [5n, 2n ** 62n]);
    expectTyped(await tensor([true, false]).data(), 'Uint8Array', [1, 0]);
  });

  test('data() keeps the tensor alive even if it is disposed right away', async () => {
    const t = arange(6).reshape([2, 3]);
    const p = t.data();
    t.dispose();
    expectTyped(await p, 'BigInt64Array', [0n, 1n, 2n, 3n, 4n, 5n]);
  });

  test('dataSync() of a non-contiguous view is in logical (row-major) order', () => {
    const t = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]).transpose(0, 1);
    expect(flat(t.dataSync())).toEqual([1, 4, 2, 5, 3, 6]);
    expect(t.toArray()).toEqual([
      [1, 4],
      [2, 5],
      [3, 6],
    ]);
  });

  test('toString names shape, dtype and device', () => {
    expect(String(zeros([2, 3], { dtype: 'int32' }))).toBe('Tensor(shape=[2, 3], dtype=int32, device=cpu)');
  });
});

describe('factories', () => {
  test('zeros, ones, empty with a shape or a single size', () => {
    expect(zeros([2, 3]).toArray()).toEqual([
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(zeros([2, 3]).dtype).toBe('float32');
    expect(ones(3).toArray()).toEqual([1, 1, 1]);
    expect(ones([2], { dtype: 'int64' }).toArray()).toEqual([1, 1]);
    expect(ones([2], { dtype: 'bool' }).toArray()).toEqual([true, true]);
    expect(zeros([]).shape).toEqual([]);
    expect(zeros([]).item()).toBe(0);
    const e = empty([4, 5], { dtype: 'float64' });
    expect(e.shape).toEqual([4, 5]);
    expect(e.dtype).toBe('float64');
    expect(zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
  });

  test('full: number, boolean and dtype', () => {
    expect(full([2, 2], 7).toArray()).toEqual([
      [7, 7],
      [7, 7],
    ]);
    expect(full([2], 7).dtype).toBe('float32');
    expect(full([3], true).dtype).toBe('bool');
    expect(full([3], true).toArray()).toEqual([true, true, true]);
    expect(full([2], -3, { dtype: 'int64' }).toArray()).toEqual([-3, -3]);
    expect(full([2], 0.1, { dtype: 'float64' }).toArray()).toEqual([0.1, 0.1]);
    expect(full([1], -Infinity).toArray()).toEqual([-Infinity]);
    expect(Number.isNaN(full([1], NaN).item())).toBe(true);
  });

  test('arange: integers give int64, fractions float32, negative steps count down', () => {
    expect(arange(5).toArray()).toEqual([0, 1, 2, 3, 4]);
    expect(arange(5).dtype).toBe('int64');
    expect(arange(2, 7).toArray()).toEqual([2, 3, 4, 5, 6]);
    expect(arange(1, 10, 3).toArray()).toEqual([1, 4, 7]);
    expect(arange(5, 0, -2).toArray()).toEqual([5, 3, 1]);
    const f = arange(0, 1, 0.25);
    expect(f.dtype).toBe('float32');
    expect(f.toArray()).toEqual([0, 0.25, 0.5, 0.75]);
    expect(arange(0, 3, 1, { dtype: 'float64' }).toArray()).toEqual([0, 1, 2]);
    expect(arange(0, 3, 1, { dtype: 'float64' }).dtype).toBe('float64');
    expect(arange(3, 3).shape).toEqual([0]);
  });

  test('randint stays in [low, high), covers the range and is int64 by default', () => {
    manualSeed(11);
    const t = randint(-3, 4, [20000]);
    expect(t.dtype).toBe('int64');
    const v = flat(t.toArray());
    expect(Math.min(...v)).toBe(-3);
    expect(Math.max(...v)).toBe(3);
    const counts = new Map<number, number>();
    for (const x of v) counts.set(x, (counts.get(x) ?? 0) + 1);
    expect(counts.size).toBe(7);
    for (const c of counts.values()) expect(Math.abs(c - 20000 / 7)).toBeLessThan(300);
    expect(randint(0, 10, [2, 3], { dtype: 'int32' }).dtype).toBe('int32');
    expect(randint(0, 10, [2, 3]).shape).toEqual([2, 3]);
    expect(flat(randint(5, 6, [4]).toArray())).toEqual([5, 5, 5, 5]);
  });

  test('rand is uniform on [0, 1): range, mean and variance loosely', () => {
    manualSeed(1);
    const t = rand([100000]);
    expect(t.dtype).toBe('float32');
    expect(t.min().item()).toBeGreaterThanOrEqual(0);
    expect(t.max().item()).toBeLessThan(1);
    expect(Math.abs((t.mean().item() as number) - 0.5)).toBeLessThan(0.01);
    expect(Math.abs((t.var().item() as number) - 1 / 12)).toBeLessThan(0.005);
    expect(rand([2, 2], { dtype: 'float64' }).dtype).toBe('float64');
  });

  test('randn is standard normal: mean 0, std 1, about 68% within one std', () => {
    manualSeed(2);
    const t = randn([100000]);
    expect(Math.abs(t.mean().item() as number)).toBeLessThan(0.02);
    expect(Math.abs((t.std().item() as number) - 1)).toBeLessThan(0.02);
    const within = t.abs().lt(1).to('float32').mean().item() as number;
    expect(Math.abs(within - 0.6827)).toBeLessThan(0.01);
    expect(randn([3], { dtype: 'bfloat16' }).dtype).toBe('bfloat16');
  });

  test('manualSeed makes rand, randn, randint and multinomial reproducible', () => {
    const draw = () => ({
      u: rand([5]).toArray(),
      n: randn([5]).toArray(),
      i: randint(0, 1000, [5]).toArray(),
      m: tensor([0.1, 0.2, 0.3, 0.4]).multinomial(8, true).toArray(),
    });
    manualSeed(1234);
    const a = draw();
    manualSeed(1234);
    const b = draw();
    expect(b).toEqual(a);
    manualSeed(4321);
    expect(draw().u).not.toEqual(a.u);
  });
});

describe('properties', () => {
  test('shape is a copy: changing it does not change the tensor', () => {
    const t = zeros([2, 3]);
    const s = t.shape;
    s[0] = 99;
    expect(t.shape).toEqual([2, 3]);
  });

  test('Tensor instances come only from the API', () => {
    expect(zeros([1])).toBeInstanceOf(Tensor);
    expectClose(ones([2]).mul(0.5), [0.5, 0.5]);
  });
});

describe('runtime', () => {
  test('the cuda namespace agrees with itself on this machine', () => {
    const available = cuda.isAvailable();
    expect(typeof available).toBe('boolean');
    const mem = cuda.memory();
    expect(Object.keys(mem).sort()).toEqual(['allocatedBytes', 'peakAllocatedBytes', 'reservedBytes']);
    expect(() => cuda.emptyCache()).not.toThrow();
    if (available) {
      expect(cuda.deviceCount()).toBeGreaterThan(0);
      expect(cuda.devices().length).toBe(cuda.deviceCount());
      expect(() => cuda.synchronize()).not.toThrow();
    } else {
      expect(cuda.deviceCount()).toBe(0);
      expect(cuda.devices()).toEqual([]);
      expect(mem).toEqual({ allocatedBytes: 0, reservedBytes: 0, peakAllocatedBytes: 0 });
      expect(() => cuda.synchronize()).toThrow(/^CUDA is not available/);
      expect(() => ones([1]).cuda()).toThrow(/^device 'cuda:0' is not available/);
    }
  });

  test('buildInfo names the libtorch and the variant', () => {
    const info = buildInfo();
    expect(info.torchVersion).toMatch(/^\d+\.\d+/);
    expect(['cpu', 'cuda']).toContain(info.variant);
    expect(info.variant === 'cuda' || !cuda.isAvailable()).toBe(true);
  });
});
