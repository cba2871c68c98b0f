// Bad calls: each throws a JS error of the right class whose message starts with the cause in plain words,
// and none of them crashes the process.
import {
  Tensor,
  arange,
  attention,
  cat,
  clipGradNorm,
  crossEntropy,
  cuda,
  embedding,
  full,
  grad,
  linear,
  manualSeed,
  memory,
  ones,
  optim,
  randint,
  randn,
  stack,
  tensor,
  tidy,
  where,
  zeros,
} from '../src';
import { thrown } from './helpers';

type ErrorClass = 'TypeError' | 'RangeError' | 'Error';

interface BadCall {
  name: string;
  call: () => unknown;
  cls: ErrorClass;
  /** The start of the message: the cause in plain words. */
  cause: string;
}

const RULE = 'numbers become integers by truncation toward zero (as torch does), never by wrapping around';
const m22 = () =>
  tensor([
    [1, 2],
    [3, 4],
  ]);
const i64 = (data: number[] | number[][]) => tensor(data, { dtype: 'int64' });
const disposed = (): Tensor => {
  const t = ones([2, 2]);
  t.dispose();
  return t;
};
const leaf = () => ones([2], { requiresGrad: true });

// Without CUDA any cuda device is unavailable; with CUDA a device index past the last one does not exist.
const cudaCase: BadCall = cuda.isAvailable()
  ? { name: "device 'cuda:99' (past the last GPU)", call: () => zeros([2], { device: 'cuda:99' }), cls: 'RangeError', cause: "device 'cuda:99' does not exist" }
  : { name: "device 'cuda' without CUDA", call: () => zeros([2], { device: 'cuda' }), cls: 'TypeError', cause: "device 'cuda' is not available" };

// A named CUDA device must exist: cuda.memory() answered zeros for any index on a CPU machine.
const cudaMemoryCase: BadCall = cuda.isAvailable()
  ? { name: "cuda.memory('cuda:99')", call: () => cuda.memory('cuda:99'), cls: 'RangeError', cause: "device 'cuda:99' does not exist" }
  : { name: "cuda.memory('cuda:7') without CUDA", call: () => cuda.memory('cuda:7'), cls: 'TypeError', cause: "device 'cuda:7' is not available" };
const q = () => randn([1, 1, 2, 4]);
const kv = () => randn([1, 1, 3, 4]);

const table: BadCall[] = [
  // ---- wrong shapes ----
  { name: 'matmul [2,2] x [3,3]', call: () => m22().matmul(zeros([3, 3])), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'matmul of 0-dim tensors', call: () => tensor(1).matmul(tensor(2)), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'add [2,2] + [3] (no broadcast)', call: () => m22().add(zeros([3])), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'view of a non-contiguous tensor', call: () => m22().transpose(0, 1).view([4]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'cat with mismatched sizes', call: () => cat([m22(), zeros([3, 3])]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'stack of different shapes', call: () => stack([zeros([1]), zeros([2])]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'reshape to a wrong numel', call: () => m22().reshape([5]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'view to a wrong numel', call: () => m22().view([3]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'reshape with two -1', call: () => m22().reshape([-1, -1]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'expand to an incompatible shape', call: () => m22().expand([3, 3]), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'tensor data and opts.shape disagree', call: () => tensor([1, 2], { shape: [3] }), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'linear with a weight of the wrong width', call: () => linear(zeros([2, 3]), zeros([4, 5])), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'crossEntropy logits/targets rank', call: () => crossEntropy(zeros([2, 3]), i64([[1]])), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'item of a 4-element tensor', call: () => m22().item(), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'max of an empty tensor without dim', call: () => zeros([0]).max(), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'multinomial of a 3-D tensor', call: () => ones([2, 2, 2]).multinomial(1), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'permute with duplicate dims', call: () => m22().permute([0, 0]), cls: 'RangeError', cause: 'invalid shape' },
  { name: 'flatten with start after end', call: () => m22().flatten(1, 0), cls: 'RangeError', cause: 'invalid shape' },
  { name: 'zeros with a negative size', call: () => zeros([-1]), cls: 'TypeError', cause: 'invalid shape' },
  { name: 'zeros with a size that overflows', call: () => zeros([2 ** 31, 2 ** 31, 2 ** 31]), cls: 'RangeError', cause: 'invalid shape' },
  { name: 'zeros with a size past 2^53', call: () => zeros([2 ** 62, 4]), cls: 'RangeError', cause: 'invalid shape: zeros() got the size 4611686018427388000, too large' },

  // ---- wrong dtypes ----
  { name: 'gather with a float index', call: () => m22().gather(0, tensor([[0]])), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'indexSelect with a float index', call: () => m22().indexSelect(0, tensor([0])), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'scatter with a float index', call: () => m22().scatter(0, tensor([[0]]), 1), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'maskedFill with a float mask', call: () => m22().maskedFill(tensor([1, 0]), 0), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'where with a float condition', call: () => where(tensor([1, 0]), 1, 2), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'mean of an int tensor', call: () => i64([1, 2]).mean(), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'softmax of an int tensor', call: () => i64([1, 2]).softmax(), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'std of an int tensor', call: () => i64([1, 2]).std(), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'requiresGrad option on an int tensor', call: () => tensor([1, 2], { dtype: 'int64', requiresGrad: true }), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'requiresGrad_ on an int tensor', call: () => i64([1, 2]).requiresGrad_(true), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'crossEntropy with float targets', call: () => crossEntropy(zeros([2, 3]), tensor([1, 0])), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'embedding with float ids', call: () => embedding(tensor([1]), zeros([3, 2])), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'multinomial of int weights', call: () => i64([1, 1]).multinomial(1), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'neg of a bool tensor', call: () => tensor([true]).neg(), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'bool minus bool', call: () => tensor([true]).sub(tensor([false])), cls: 'TypeError', cause: 'dtype mismatch' },
  { name: 'unknown dtype in options', call: () => zeros([2], { dtype: 'float8' as never }), cls: 'TypeError', cause: 'unknown dtype' },
  { name: 'to() an unknown dtype', call: () => m22().to('float8'), cls: 'TypeError', cause: 'unknown dtype or device' },

  // ---- devices ----
  cudaCase,
  cudaMemoryCase,
  { name: 'cuda.memory(-1)', call: () => cuda.memory(-1), cls: 'TypeError', cause: 'unknown device -1' },
  { name: "cuda.memory('gpu')", call: () => cuda.memory('gpu'), cls: 'TypeError', cause: 'unknown device' },
  { name: "device 'gpu'", call: () => zeros([2], { device: 'gpu' }), cls: 'TypeError', cause: 'unknown device' },
  { name: "device 'cuda:x'", call: () => zeros([2], { device: 'cuda:x' }), cls: 'TypeError', cause: 'unknown device' },
  { name: "to('cuda:x')", call: () => m22().to('cuda:x'), cls: 'TypeError', cause: 'unknown device' },
  { name: "tensor() on device 'tpu'", call: () => tensor([1], { device: 'tpu' }), cls: 'TypeError', cause: 'unknown device' },
  { name: "device 'cpu:1'", call: () => ones([1], { device: 'cpu:1' }), cls: 'TypeError', cause: 'unknown device' },

  // ---- disposed tensors ----
  { name: 'method on a disposed tensor', call: () => disposed().add(1), cls: 'TypeError', cause: 'disposed tensor' },
  { name: 'property of a disposed tensor', call: () => disposed().shape, cls: 'TypeError', cause: 'disposed tensor' },
  { name: 'disposed tensor as an argument', call: () => m22().add(disposed()), cls: 'TypeError', cause: 'disposed tensor' },
  { name: 'disposed tensor in a cat list', call: () => cat([m22(), disposed()]), cls: 'TypeError', cause: 'disposed tensor' },
  { name: 'toArray of a disposed tensor', call: () => disposed().toArray(), cls: 'TypeError', cause: 'disposed tensor' },
  { name: 'data() of a disposed tensor', call: () => disposed().data(), cls: 'TypeError', cause: 'disposed tensor' },
  { name: 'disposed tensor as an AdamW parameter', call: () => new optim.AdamW([disposed()]), cls: 'TypeError', cause: 'disposed tensor' },

  // ---- out-of-range dims and indices ----
  { name: 'sum(5) of a 2-D tensor', call: () => m22().sum(5), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'softmax(2) of a 2-D tensor', call: () => m22().softmax(2), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'transpose(0, 3)', call: () => m22().transpose(0, 3), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'unsqueeze(4)', call: () => m22().unsqueeze(4), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'narrow beyond the end', call: () => m22().narrow(0, 1, 5), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'narrow with start past the end', call: () => m22().narrow(1, 3, 0), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'narrow on dim 7', call: () => m22().narrow(7, 0, 1), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'indexSelect with index 99', call: () => m22().indexSelect(0, i64([99])), cls: 'RangeError', cause: 'index or dimension out of range: indexSelect() index 99 is outside dim 0 of size 2 (valid: 0 to 1)' },
  { name: 'indexSelect with index -1', call: () => m22().indexSelect(0, i64([-1])), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'gather out of bounds', call: () => m22().gather(1, i64([[5, 0], [0, 0]])), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'scatter out of bounds', call: () => zeros([3]).scatter(0, i64([7]), 5), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'embedding id past the vocabulary', call: () => embedding(i64([7]), zeros([3, 2])), cls: 'RangeError', cause: 'index or dimension out of range: embedding() id 7 is outside the vocabulary: weight has 3 rows, so ids must be in [0, 3)' },
  { name: 'embedding with a negative id', call: () => embedding(i64([1, -2]), zeros([3, 2])), cls: 'RangeError', cause: 'index or dimension out of range: embedding() id -2 is outside the vocabulary' },
  { name: 'crossEntropy target past the classes', call: () => crossEntropy(zeros([2, 3]), i64([5, 0])), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'topk with k > size', call: () => m22().topk(5), cls: 'RangeError', cause: 'index or dimension out of range: topk() k = 5 but dim -1 has 2 elements' },
  { name: 'attention with keyStart > Tk', call: () => attention(q(), kv(), kv(), { keyStart: i64([5]) }), cls: 'RangeError', cause: 'index out of range: keyStart must be in [0, 3]' },
  { name: 'attention with a negative keyStart', call: () => attention(q(), kv(), kv(), { keyStart: i64([-1]) }), cls: 'RangeError', cause: 'index out of range: keyStart must be in [0, 3]' },
  { name: 'sort along dim 3', call: () => zeros([2]).sort(3), cls: 'RangeError', cause: 'index or dimension out of range' },
  { name: 'split size 0', call: () => zeros([2]).split(0), cls: 'RangeError', cause: 'out of range' },
  { name: 'chunk count 0', call: () => zeros([2]).chunk(0), cls: 'RangeError', cause: 'out of range' },
  { name: 'multinomial of more samples than categories', call: () => tensor([1, 1]).multinomial(3), cls: 'RangeError', cause: 'out of range' },
  { name: 'randint with low >= high', call: () => randint(5, 1, [2]), cls: 'RangeError', cause: 'out of range' },
  { name: 'manualSeed(-1)', call: () => manualSeed(-1), cls: 'RangeError', cause: 'out of range' },
  { name: 'a BigInt beyond int64 as operand', call: () => ones([1]).add(2n ** 70n as never), cls: 'RangeError', cause: 'out of range' },

  // ---- NaN and values that cannot be stored or used ----
  { name: 'tensor([NaN]) as int64', call: () => tensor([NaN], { dtype: 'int64' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'tensor([Infinity]) as int32', call: () => tensor([Infinity], { dtype: 'int32' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'Float32Array with NaN as int64', call: () => tensor(new Float32Array([1, NaN]), { dtype: 'int64' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'tensor([1e20]) as int64 (would wrap)', call: () => tensor([1e20], { dtype: 'int64' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'tensor([2n ** 64n]) (would wrap)', call: () => tensor([2n ** 64n]), cls: 'RangeError', cause: 'invalid values' },
  { name: 'tensor([-1]) as uint8', call: () => tensor([-1], { dtype: 'uint8' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'tensor([300]) as uint8 (says the rule)', call: () => tensor([300], { dtype: 'uint8' }), cls: 'RangeError', cause: `invalid values: tensor() got 300, which does not fit in a uint8 tensor [0, 255]; ${RULE}` },
  { name: 'Int32Array([300]) as uint8 (would wrap)', call: () => tensor(new Int32Array([300]), { dtype: 'uint8' }), cls: 'RangeError', cause: `invalid values: tensor() got 300, which does not fit in a uint8 tensor [0, 255]; ${RULE}` },
  { name: 'full(300) as uint8', call: () => full([2], 300, { dtype: 'uint8' }), cls: 'RangeError', cause: `invalid values: full() got 300, which does not fit in a uint8 tensor [0, 255]; ${RULE}` },
  { name: 'to(uint8) of 300 (would wrap to 44)', call: () => tensor([1, 300]).to('uint8'), cls: 'RangeError', cause: `invalid values: to('uint8') got 300, which does not fit in a uint8 tensor [0, 255]; ${RULE}` },
  { name: 'to(int64) of NaN (would give -2^63)', call: () => tensor([NaN]).to('int64'), cls: 'RangeError', cause: `invalid values: to('int64') cannot store NaN or Infinity in a int64 tensor; ${RULE}` },
  { name: 'to(int32) of an int64 past 2^31 (would wrap)', call: () => i64([2 ** 40]).to('int32'), cls: 'RangeError', cause: "invalid values: to('int32') got 1099511627776, which does not fit in a int32 tensor" },
  { name: 'Float64Array([1e10]) as int32', call: () => tensor(new Float64Array([1e10]), { dtype: 'int32' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'arange with NaN', call: () => arange(0, NaN), cls: 'RangeError', cause: 'invalid values' },
  { name: 'arange with step 0', call: () => arange(0, 5, 0), cls: 'RangeError', cause: 'invalid values' },
  { name: 'arange stepping away from end', call: () => arange(5, 0, 1), cls: 'RangeError', cause: 'invalid values' },
  { name: 'full(NaN) as int64', call: () => full([2], NaN, { dtype: 'int64' }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'full with a NaN size', call: () => full([NaN], 1), cls: 'TypeError', cause: 'invalid shape' },
  { name: 'multinomial with NaN weights', call: () => tensor([NaN, 1]).multinomial(1), cls: 'RangeError', cause: 'invalid values' },
  { name: 'multinomial with a negative weight', call: () => tensor([-1, 1]).multinomial(1), cls: 'RangeError', cause: 'invalid values' },
  { name: 'multinomial with all-zero weights', call: () => tensor([0, 0]).multinomial(1), cls: 'RangeError', cause: 'invalid values' },
  { name: 'multinomial without replacement, too few non-zero weights', call: () => tensor([1, 0, 0, 1]).multinomial(3), cls: 'RangeError', cause: 'invalid values' },
  { name: 'int tensor to a negative integer power', call: () => i64([2]).pow(-1), cls: 'RangeError', cause: 'invalid values' },
  { name: 'clipGradNorm with a negative max norm', call: () => clipGradNorm([leaf()], -1), cls: 'RangeError', cause: 'invalid values' },
  { name: 'clipGradNorm with a NaN max norm', call: () => clipGradNorm([leaf()], NaN), cls: 'RangeError', cause: 'invalid values' },
  { name: 'AdamW with lr NaN', call: () => new optim.AdamW([leaf()], { lr: NaN }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'AdamW with beta1 = 1.5', call: () => new optim.AdamW([leaf()], { betas: [1.5, 0.9] }), cls: 'RangeError', cause: 'invalid values' },
  { name: 'AdamW setLr(-1)', call: () => new optim.AdamW([leaf()]).setLr(-1), cls: 'RangeError', cause: 'invalid values' },

  // ---- wrong argument types ----
  { name: "tensor('abc')", call: () => tensor('abc' as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'tensor(undefined)', call: () => tensor(undefined as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'tensor of mixed numbers and booleans', call: () => tensor([1, true]), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'tensor of an Int16Array', call: () => tensor(new Int16Array(2) as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'ragged nested arrays', call: () => tensor([[1, 2], [3]]), cls: 'TypeError', cause: 'invalid shape' },
  { name: 'ragged nested arrays, deeper in one place', call: () => tensor([[1, 2], [3, [4]]] as never), cls: 'TypeError', cause: 'invalid shape' },
  { name: "zeros('x')", call: () => zeros('x' as never), cls: 'TypeError', cause: 'invalid shape' },
  { name: 'zeros with fractional sizes', call: () => zeros([1.5]), cls: 'TypeError', cause: 'invalid shape' },
  { name: "add('1')", call: () => m22().add('1' as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'add({})', call: () => m22().add({} as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'reshape with fractional sizes', call: () => m22().reshape([0.5, 8]), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'narrow with a NaN start', call: () => m22().narrow(0, NaN, 1), cls: 'TypeError', cause: 'wrong argument type' },
  { name: "norm with p = 'x'", call: () => m22().norm(undefined, false, 'x' as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'clamp with neither bound', call: () => m22().clamp(), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'to(5)', call: () => m22().to(5 as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'cat of an empty list', call: () => cat([]), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'cat of a list with a number', call: () => cat([m22(), 5 as never]), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'randint with fractional bounds', call: () => randint(0.5, 2, [2]), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'AdamW with a non-tensor', call: () => new optim.AdamW([1 as never]), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'AdamW with betas of strings', call: () => new optim.AdamW([leaf()], { betas: ['x', 0.9] as never }), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'AdamW with a string lr', call: () => new optim.AdamW([leaf()], { lr: '1' as never }), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'AdamW loadStateDict of null', call: () => new optim.AdamW([leaf()]).loadStateDict(null as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'clipGradNorm with a non-tensor', call: () => clipGradNorm(['p' as never], 1), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'crossEntropy with an unknown reduction', call: () => crossEntropy(zeros([2, 3]), i64([1, 0]), { reduction: 'avg' as never }), cls: 'TypeError', cause: 'unknown reduction' },
  { name: 'grad() of numbers', call: () => grad(1 as never, 2 as never), cls: 'TypeError', cause: 'wrong argument type' },
  { name: 'tidy(null)', call: () => tidy(null as never), cls: 'TypeError', cause: 'wrong argument type: tidy() needs a function that makes tensors, got null' },

  // ---- autograd ----
  { name: 'backward on a non-scalar without grad', call: () => leaf().mul(2).backward(), cls: 'TypeError', cause: 'shape mismatch' },
  { name: 'backward on a tensor without requiresGrad', call: () => ones([1]).backward(), cls: 'TypeError', cause: 'autograd' },
  { name: 'backward with a gradient of the wrong shape', call: () => leaf().mul(2).backward(ones([3])), cls: 'TypeError', cause: 'shape mismatch' },
  {
    name: 'double backward without retainGraph',
    call: () => {
      const y = leaf().exp().sum();
      y.backward();
      y.backward();
    },
    cls: 'Error',
    cause: 'autograd',
  },
  { name: 'requiresGrad_ on a non-leaf', call: () => leaf().mul(2).requiresGrad_(true), cls: 'TypeError', cause: 'autograd' },
  { name: 'grad() of an output without requiresGrad', call: () => grad(ones([1]), leaf()), cls: 'TypeError', cause: 'autograd' },
  { name: 'AdamW over a tensor without requiresGrad', call: () => new optim.AdamW([ones([2])]), cls: 'TypeError', cause: 'autograd' },
];


describe('bad calls throw plain-words errors', () => {
  test('the table has at least 30 bad calls', () => {
    expect(table.length).toBeGreaterThanOrEqual(30);
  });

  test.each(table.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const e = thrown(c.call);
    // Errors made by the addon come from Node's main realm, not jest's sandbox: compare class names.
    expect(Object.prototype.toString.call(e)).toBe('[object Error]');
    expect(e.name).toBe(c.cls);
    expect(e.message.startsWith(c.cause)).toBe(true);
    // No C++ stack frames or source locations leak into the message.
    expect(e.message).not.toMatch(/Exception raised from|frame #/);
  });

  test('the integer rule: fractions truncate toward zero in tensor(), full() and to() alike', () => {
    expect(tensor([1.7, -1.7, 255.9], { dtype: 'int64' }).toArray()).toEqual([1, -1, 255]);
    expect(tensor(new Float64Array([1.7, -0.5, 255.9]), { dtype: 'uint8' }).toArray()).toEqual([1, 0, 255]);
    expect(full([1], -2.5, { dtype: 'int32' }).toArray()).toEqual([-2]);
    expect(tensor([1.7, -0.5, 255.9]).to('uint8').toArray()).toEqual([1, 0, 255]);
    expect(tensor([2.9, -2.9]).to('int64').toArray()).toEqual([2, -2]);
  });

  test('async data() of a disposed tensor throws at once', () => {
    const t = ones([1]);
    t.dispose();
    expect(() => t.data()).toThrow(/^disposed tensor/);
  });
});

describe('after all of that', () => {
  test('the process still works and the live-tensor count is sane', () => {
    const before = memory().tensors;
    const y = m22().matmul(m22()).add(1);
    expect(y.toArray()).toEqual([
      [8, 11],
      [16, 23],
    ]);
    expect(memory().tensors).toBeGreaterThan(before);
    const x = ones([2], { requiresGrad: true });
    x.mul(x).sum().backward();
    expect(x.grad?.toArray()).toEqual([2, 2]);
  });

  test('disposing twice is harmless and a failed op leaves its inputs usable', () => {
    const t = m22();
    expect(() => t.matmul(zeros([3, 3]))).toThrow();
    expect(t.sum().item()).toBe(10);
    t.dispose();
    t.dispose();
    expect(t.isDisposed).toBe(true);
  });
});
