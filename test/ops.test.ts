// Every op of the tensor API against hand-computed values (CPU).
import {
  Tensor,
  arange,
  cat,
  chunk,
  crossEntropy,
  embedding,
  linear,
  manualSeed,
  ones,
  split,
  stack,
  tensor,
  where,
  zeros,
} from '../src';
import { expectClose, f32, flat, nest, wave } from './helpers';

const i64 = (data: number[] | number[][] | number[][][]) => tensor(data, { dtype: 'int64' });
const f64 = (data: number[] | number[][] | number[][][]) => tensor(data, { dtype: 'float64' });

describe('elementwise math', () => {
  const x = tensor([-2, -0.5, 0, 1, 3]);

  test('add sub mul div with tensors and numbers', () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([10, 20, 30]);
    expect(a.add(b).toArray()).toEqual([11, 22, 33]);
    expect(a.sub(b).toArray()).toEqual([-9, -18, -27]);
    expect(a.mul(b).toArray()).toEqual([10, 40, 90]);
    expect(b.div(a).toArray()).toEqual([10, 10, 10]);
    expect(a.add(1.5).toArray()).toEqual([2.5, 3.5, 4.5]);
    expect(a.sub(1).toArray()).toEqual([0, 1, 2]);
    expect(a.mul(-2).toArray()).toEqual([-2, -4, -6]);
    expect(a.div(4).toArray()).toEqual([0.25, 0.5, 0.75]);
    expect(a.add(true).toArray()).toEqual([2, 3, 4]);
  });

  test('broadcasting: [2,1] with [3], [2,3] with [3], scalar tensors', () => {
    const col = tensor([[1], [2]]);
    const row = tensor([10, 20, 30]);
    const sum = col.add(row);
    expect(sum.shape).toEqual([2, 3]);
    expect(sum.toArray()).toEqual([
      [11, 21, 31],
      [12, 22, 32],
    ]);
    expect(row.mul(col).toArray()).toEqual([
      [10, 20, 30],
      [20, 40, 60],
    ]);
    const m = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(m.sub(row).toArray()).toEqual([
      [-9, -18, -27],
      [-6, -15, -24],
    ]);
    expect(m.div(tensor(2)).toArray()).toEqual([
      [0.5, 1, 1.5],
      [2, 2.5, 3],
    ]);
    expect(ones([2, 1, 3]).add(ones([4, 1])).shape).toEqual([2, 4, 3]);
  });

  test('dtype promotion with numbers follows torch: the tensor dtype wins within a category', () => {
    const f = tensor([1, 2]);
    expect(f.add(1).dtype).toBe('float32');
    expect(f.mul(2).dtype).toBe('float32');
    const l = i64([1, 2]);
    const half = l.add(0.5);
    expect(half.dtype).toBe('float32');
    expect(half.toArray()).toEqual([1.5, 2.5]);
    expect(l.add(1).dtype).toBe('int64');
    expect(l.add(1).toArray()).toEqual([2, 3]);
    expect(l.mul(3).toArray()).toEqual([3, 6]);
    // True division of integers gives float32, as torch.
    expect(l.div(2).dtype).toBe('float32');
    expect(l.div(2).toArray()).toEqual([0.5, 1]);
    expect(tensor([1, 2], { dtype: 'int32' }).add(1).dtype).toBe('int32');
    expect(tensor([1, 2], { dtype: 'bfloat16' }).add(1.5).dtype).toBe('bfloat16');
    expect(tensor([1, 2], { dtype: 'float16' }).mul(2).dtype).toBe('float16');
    expect(tensor([1, 2], { dtype: 'float64' }).add(1).dtype).toBe('float64');
    expect(tensor([true, false]).add(1).dtype).toBe('int64');
    expect(tensor([true, false]).add(1).toArray()).toEqual([2, 1]);
    expect(tensor([1, 2], { dtype: 'uint8' }).add(1).dtype).toBe('uint8');
  });

  test('dtype promotion between tensors', () => {
    expect(tensor([1]).add(tensor([1], { dtype: 'float64' })).dtype).toBe('float64');
    expect(tensor([1], { dtype: 'int32' }).add(i64([1])).dtype).toBe('int64');
    expect(i64([1]).add(tensor([1])).dtype).toBe('float32');
    expect(tensor([1], { dtype: 'bfloat16' }).add(tensor([1])).dtype).toBe('float32');
    expect(tensor([1], { dtype: 'bfloat16' }).add(tensor([1], { dtype: 'float16' })).dtype).toBe('float32');
    // A 0-dim tensor does not promote a dimensioned one of the same category.
    expect(tensor([1]).add(tensor(1, { dtype: 'float64' })).dtype).toBe('float32');
  });

  test('neg pow exp log sqrt rsqrt abs', () => {
    expect(x.neg().toArray()).toEqual([2, 0.5, -0, -1, -3]);
    expect(tensor([1, 2, 3]).pow(2).toArray()).toEqual([1, 4, 9]);
    expect(tensor([4, 9]).pow(0.5).toArray()).toEqual([2, 3]);
    expect(tensor([2, 3]).pow(tensor([3, 2])).toArray()).toEqual([8, 9]);
    expect(i64([2, 3]).pow(2).toArray()).toEqual([4, 9]);
    expect(i64([2, 3]).pow(2).dtype).toBe('int64');
    expectClose(tensor([0, 1, -1]).exp(), [1, Math.E, 1 / Math.E]);
    expectClose(tensor([1, Math.E, 0.5]).log(), [0, 1, Math.log(0.5)]);
    expect(tensor([0]).log().toArray()).toEqual([-Infinity]);
    expect(Number.isNaN(tensor([-1]).log().item())).toBe(true);
    expect(tensor([4, 9, 0.25]).sqrt().toArray()).toEqual([2, 3, 0.5]);
    expectClose(tensor([4, 0.25]).rsqrt(), [0.5, 2]);
    expect(x.abs().toArray()).toEqual([2, 0.5, 0, 1, 3]);
    expect(i64([-3, 4]).abs().toArray()).toEqual([3, 4]);
  });

  test('tanh sigmoid relu silu gelu', () => {
    const v = [-2, -0.5, 0, 1, 3];
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    expectClose(x.tanh(), v.map(Math.tanh));
    expectClose(x.sigmoid(), v.map(sig));
    expect(x.relu().toArray()).toEqual([0, 0, 0, 1, 3]);
    expectClose(x.silu(), v.map((z) => z * sig(z)));
    // exact gelu: z * Phi(z); Phi from erf values (erf(-sqrt2)=-0.9544997361, erf(-0.5/sqrt2)=-0.3829249225,
    // erf(1/sqrt2)=0.6826894921, erf(3/sqrt2)=0.9973002039).
    const phi = [0.5 * (1 - 0.9544997361036416), 0.5 * (1 - 0.3829249225480262), 0.5, 0.5 * (1 + 0.6826894921370859), 0.5 * (1 + 0.9973002039367398)];
    expectClose(x.gelu(), v.map((z, i) => z * phi[i]));
    const tanhGelu = (z: number) => 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
    expectClose(x.gelu('tanh'), v.map(tanhGelu));
  });

  test('clamp with min, max or both; maximum and minimum', () => {
    expect(x.clamp(-1, 1).toArray()).toEqual([-1, -0.5, 0, 1, 1]);
    expect(x.clamp(0).toArray()).toEqual([0, 0, 0, 1, 3]);
    expect(x.clamp(null, 0).toArray()).toEqual([-2, -0.5, 0, 0, 0]);
    expect(i64([-5, 5]).clamp(-1, 1).toArray()).toEqual([-1, 1]);
    expect(x.maximum(tensor([0, 0, 0, 5, 0])).toArray()).toEqual([0, 0, 0, 5, 3]);
    expect(x.minimum(0).toArray()).toEqual([-2, -0.5, 0, 0, 0]);
    expect(tensor([[1], [4]]).maximum(tensor([2, 3])).toArray()).toEqual([
      [2, 3],
      [4, 4],
    ]);
  });

  test('comparisons give bool tensors, with tensors, numbers and broadcasting', () => {
    const a = tensor([1, 2, 3]);
    const b = tensor([3, 2, 1]);
    expect(a.eq(b).dtype).toBe('bool');
    expect(a.eq(b).toArray()).toEqual([false, true, false]);
    expect(a.ne(b).toArray()).toEqual([true, false, true]);
    expect(a.lt(b).toArray()).toEqual([true, false, false]);
    expect(a.le(b).toArray()).toEqual([true, true, false]);
    expect(a.gt(b).toArray()).toEqual([false, false, true]);
    expect(a.ge(b).toArray()).toEqual([false, true, true]);
    expect(a.gt(1.5).toArray()).toEqual([false, true, true]);
    expect(i64([1, 2]).eq(2).toArray()).toEqual([false, true]);
    expect(tensor([[1], [2]]).lt(tensor([1, 2, 3])).toArray()).toEqual([
      [false, true, true],
      [false, false, true],
    ]);
    expect(tensor([NaN]).eq(tensor([NaN])).toArray()).toEqual([false]);
  });

  test('logicalAnd logicalOr logicalNot', () => {
    const p = tensor([true, true, false, false]);
    const q = tensor([true, false, true, false]);
    expect(p.logicalAnd(q).toArray()).toEqual([true, false, false, false]);
    expect(p.logicalOr(q).toArray()).toEqual([true, true, true, false]);
    expect(p.logicalNot().toArray()).toEqual([false, false, true, true]);
    // Non-bool inputs count non-zero as true.
    expect(tensor([0, 2, 0]).logicalOr(tensor([0, 0, -1])).toArray()).toEqual([false, true, true]);
    expect(tensor([0, 2]).logicalNot().toArray()).toEqual([true, false]);
    expect(p.logicalAnd(true).toArray()).toEqual([true, true, false, false]);
  });

  test('where with tensors, numbers and broadcasting; Tensor.where', () => {
    const cond = tensor([true, false, true]);
    expect(where(cond, tensor([1, 2, 3]), tensor([-1, -2, -3])).toArray()).toEqual([1, -2, 3]);
    expect(where(cond, tensor([1, 2, 3]), 0).toArray()).toEqual([1, 0, 3]);
    expect(where(cond, 5, 6).toArray()).toEqual([5, 6, 5]);
    expect(where(tensor([[true], [false]]), tensor([1, 2]), tensor([10, 20])).toArray()).toEqual([
      [1, 2],
      [10, 20],
    ]);
    expect(tensor([1, 2, 3]).where(cond, -1).toArray()).toEqual([1, -1, 3]);
    expect(where(cond, i64([1, 2, 3]), 0).dtype).toBe('int64');
  });

  test('int64 arithmetic stays exact; int division by zero gives infinities in float', () => {
    expect(i64([7, -7]).sub(i64([2, 2])).toArray()).toEqual([5, -9]);
    expect(i64([1, -1, 0]).div(0).toArray()).toEqual([Infinity, -Infinity, NaN]);
  });
});

describe('reductions', () => {
  const m = tensor([
    [1, 5, 3],
    [4, 2, 6],
  ]);

  test('sum and mean over all, one dim, several dims, keepdim', () => {
    expect(m.sum().item()).toBe(21);
    expect(m.sum().shape).toEqual([]);
    expect(m.sum(0).toArray()).toEqual([5, 7, 9]);
    expect(m.sum(1).toArray()).toEqual([9, 12]);
    expect(m.sum(-1, true).toArray()).toEqual([[9], [12]]);
    expect(m.sum([0, 1]).item()).toBe(21);
    expect(m.sum([0, 1], true).shape).toEqual([1, 1]);
    expect(m.mean().item()).toBe(3.5);
    expect(m.mean(0).toArray()).toEqual([2.5, 3.5, 4.5]);
    expect(m.mean(1, true).toArray()).toEqual([[3], [4]]);
    expect(i64([1, 2, 3]).sum().dtype).toBe('int64');
    expect(i64([1, 2, 3]).sum().item()).toBe(6);
  });

  test('max min argmax argmin over all and along a dim', () => {
    expect(m.max().item()).toBe(6);
    expect(m.min().item()).toBe(1);
    expect(m.argmax().item()).toBe(5);
    expect(m.argmin().item()).toBe(0);
    expect(m.max(0).toArray()).toEqual([4, 5, 6]);
    expect(m.max(1, true).toArray()).toEqual([[5], [6]]);
    expect(m.min(1).toArray()).toEqual([1, 2]);
    expect(m.argmax(1).toArray()).toEqual([1, 2]);
    expect(m.argmax(1).dtype).toBe('int64');
    expect(m.argmin(0).toArray()).toEqual([0, 1, 0]);
    expect(m.argmin(0, true).shape).toEqual([1, 3]);
  });

  test('logsumexp matches log(sum(exp)) and stays finite for large values', () => {
    const lse = (xs: number[]) => {
      const mx = Math.max(...xs);
      return mx + Math.log(xs.reduce((s, v) => s + Math.exp(v - mx), 0));
    };
    expectClose(m.logsumexp(1), [lse([1, 5, 3]), lse([4, 2, 6])]);
    expectClose(m.logsumexp(0, true), [[lse([1, 4]), lse([5, 2]), lse([3, 6])]]);
    expectClose(m.logsumexp().item() as number, lse([1, 5, 3, 4, 2, 6]));
    expectClose(tensor([1000, 1000]).logsumexp(0), 1000 + Math.log(2));
  });

  test('norm: L2 by default, other p, along dims', () => {
    const v = tensor([
      [3, 4],
      [6, 8],
    ]);
    expectClose(v.norm(), Math.sqrt(9 + 16 + 36 + 64));
    expect(v.norm(1).toArray()).toEqual([5, 10]);
    expect(v.norm(0, true).shape).toEqual([1, 2]);
    expectClose(v.norm(0), [Math.sqrt(45), Math.sqrt(80)]);
    expect(v.norm(undefined, false, 1).item()).toBe(21);
    expect(v.norm(1, false, Infinity).toArray()).toEqual([4, 8]);
  });

  test('std and var: unbiased by default, biased on request, along dims', () => {
    const v = tensor([2, 4, 4, 4, 5, 5, 7, 9]); // mean 5, sum of squares 32
    expectClose(v.var(), 32 / 7);
    expectClose(v.std(), Math.sqrt(32 / 7));
    expectClose(v.var(undefined, false, false), 4);
    expectClose(v.std(0, false, false), 2);
    expectClose(m.var(1), [4, 4]);
    expectClose(m.std(0, true), [[Math.sqrt(4.5), Math.sqrt(4.5), Math.sqrt(4.5)]]);
  });

  test('cumsum along each dim', () => {
    expect(m.cumsum(1).toArray()).toEqual([
      [1, 6, 9],
      [4, 6, 12],
    ]);
    expect(m.cumsum(0).toArray()).toEqual([
      [1, 5, 3],
      [5, 7, 9],
    ]);
    expect(i64([1, 2, 3]).cumsum(0).toArray()).toEqual([1, 3, 6]);
  });

  test('softmax and logSoftmax along the last dim (default) and dim 0', () => {
    const sm = (xs: number[]) => {
      const e = xs.map((z) => Math.exp(z - Math.max(...xs)));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((z) => z / s);
    };
    expectClose(m.softmax(), [sm([1, 5, 3]), sm([4, 2, 6])]);
    expectClose(m.softmax(-1).sum(-1), [1, 1]);
    const col = m.softmax(0);
    expectClose(col, [
      [sm([1, 4])[0], sm([5, 2])[0], sm([3, 6])[0]],
      [sm([1, 4])[1], sm([5, 2])[1], sm([3, 6])[1]],
    ]);
    expectClose(m.logSoftmax(), [sm([1, 5, 3]).map(Math.log), sm([4, 2, 6]).map(Math.log)]);
    expectClose(tensor([1000, 0]).logSoftmax(), [0, -1000]);
  });
});

describe('shape and views', () => {
  const t = arange(6).reshape([2, 3]);

  test('reshape and view, with -1', () => {
    expect(t.shape).toEqual([2, 3]);
    expect(t.toArray()).toEqual([
      [0, 1, 2],
      [3, 4, 5],
    ]);
    expect(t.reshape([3, -1]).toArray()).toEqual([
      [0, 1],
      [2, 3],
      [4, 5],
    ]);
    expect(t.view([6]).toArray()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(t.view([-1, 1, 2]).shape).toEqual([3, 1, 2]);
    expect(tensor([7]).reshape([]).shape).toEqual([]);
  });

  test('transpose and permute', () => {
    expect(t.transpose(0, 1).toArray()).toEqual([
      [0, 3],
      [1, 4],
      [2, 5],
    ]);
    const c = arange(24).reshape([2, 3, 4]);
    const p = c.permute([2, 0, 1]);
    expect(p.shape).toEqual([4, 2, 3]);
    // p[k][i][j] = c[i][j][k] = 12 i + 4 j + k
    const pa = p.toArray() as number[][][];
    for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(pa[k][i][j]).toBe(12 * i + 4 * j + k);
    expect(c.transpose(-1, 0).shape).toEqual([4, 3, 2]);
  });

  test('unsqueeze squeeze expand', () => {
    expect(t.unsqueeze(0).shape).toEqual([1, 2, 3]);
    expect(t.unsqueeze(-1).shape).toEqual([2, 3, 1]);
    expect(t.unsqueeze(1).toArray()).toEqual([[[0, 1, 2]], [[3, 4, 5]]]);
    expect(zeros([1, 2, 1]).squeeze().shape).toEqual([2]);
    expect(zeros([1, 2, 1]).squeeze(0).shape).toEqual([2, 1]);
    expect(zeros([1, 2, 1]).squeeze(1).shape).toEqual([1, 2, 1]);
    const e = tensor([[1], [2]]).expand([2, 3]);
    expect(e.toArray()).toEqual([
      [1, 1, 1],
      [2, 2, 2],
    ]);
    expect(tensor([1, 2]).expand([3, -1]).toArray()).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
  });

  test('contiguous makes a transposed tensor viewable; flatten', () => {
    const tt = t.transpose(0, 1).contiguous();
    expect(tt.view([6]).toArray()).toEqual([0, 3, 1, 4, 2, 5]);
    const c = arange(24).reshape([2, 3, 4]);
    expect(c.flatten().shape).toEqual([24]);
    expect(c.flatten(1).shape).toEqual([2, 12]);
    expect(c.flatten(0, 1).shape).toEqual([6, 4]);
    expect(flat(c.flatten(0, 1).toArray())).toEqual(flat(c.toArray()));
  });

  test('narrow, with a negative start', () => {
    expect(t.narrow(1, 1, 2).toArray()).toEqual([
      [1, 2],
      [4, 5],
    ]);
    expect(t.narrow(0, 1, 1).toArray()).toEqual([[3, 4, 5]]);
    expect(t.narrow(1, -1, 1).toArray()).toEqual([[2], [5]]);
    expect(t.narrow(1, 3, 0).shape).toEqual([2, 0]);
  });

  test('clone is a copy; detach drops grad tracking', () => {
    const a = tensor([1, 2], { requiresGrad: true });
    const c = a.clone();
    expect(c.toArray()).toEqual([1, 2]);
    expect(c.requiresGrad).toBe(true);
    expect(c.isLeaf).toBe(false);
    const d = a.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(d.toArray()).toEqual([2, 4]);
  });

  test('matmul: vector, matrix, batched with broadcasting', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const b = tensor([
      [5, 6, 7],
      [8, 9, 10],
    ]);
    expect(a.matmul(b).toArray()).toEqual([
      [21, 24, 27],
      [47, 54, 61],
    ]);
    expect(a.matmul(tensor([1, -1])).toArray()).toEqual([-1, -1]);
    expect(tensor([1, 1]).matmul(a).toArray()).toEqual([4, 6]);
    expect(tensor([1, 2]).matmul(tensor([3, 4])).item()).toBe(11);
    const batch = stack([a, a.mul(2)]);
    expect(batch.matmul(b).toArray()).toEqual([
      [
        [21, 24, 27],
        [47, 54, 61],
      ],
      [
        [42, 48, 54],
        [94, 108, 122],
      ],
    ]);
    expect(f64([[0.5]]).matmul(f64([[0.25]])).dtype).toBe('float64');
    const bf = tensor([[1, 2]], { dtype: 'bfloat16' }).matmul(tensor([[3], [4]], { dtype: 'bfloat16' }));
    expect(bf.dtype).toBe('bfloat16');
    expect(bf.item()).toBe(11);
  });
});

describe('indexing', () => {
  const t = tensor([
    [1, 2, 3],
    [4, 5, 6],
    [7, 8, 9],
  ]);

  test('indexSelect with int64 and int32 indices, repeats allowed', () => {
    expect(t.indexSelect(0, i64([2, 0, 2])).toArray()).toEqual([
      [7, 8, 9],
      [1, 2, 3],
      [7, 8, 9],
    ]);
    expect(t.indexSelect(1, tensor([1], { dtype: 'int32' })).toArray()).toEqual([[2], [5], [8]]);
  });

  test('gather picks along a dim', () => {
    expect(t.gather(1, i64([[0], [2], [1]])).toArray()).toEqual([[1], [6], [8]]);
    expect(t.gather(0, i64([[2, 1, 0]])).toArray()).toEqual([[7, 5, 3]]);
  });

  test('scatter writes a tensor or a number out of place', () => {
    const z = zeros([2, 4]);
    const s = z.scatter(1, i64([[3], [0]]), tensor([[7], [9]]));
    expect(s.toArray()).toEqual([
      [0, 0, 0, 7],
      [9, 0, 0, 0],
    ]);
    expect(z.toArray()).toEqual([
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect(z.scatter(1, i64([[1, 2], [0, 0]]), -1).toArray()).toEqual([
      [0, -1, -1, 0],
      [-1, 0, 0, 0],
    ]);
  });

  test('maskedFill with a number, a 0-dim tensor and a broadcast mask', () => {
    const mask = tensor([
      [true, false, false],
      [false, true, false],
      [false, false, true],
    ]);
    expect(t.maskedFill(mask, 0).toArray()).toEqual([
      [0, 2, 3],
      [4, 0, 6],
      [7, 8, 0],
    ]);
    expect(t.maskedFill(tensor([false, true, false]), -Infinity).toArray()).toEqual([
      [1, -Infinity, 3],
      [4, -Infinity, 6],
      [7, -Infinity, 9],
    ]);
    expect(t.maskedFill(mask, tensor(0.5)).toArray()).toEqual([
      [0.5, 2, 3],
      [4, 0.5, 6],
      [7, 8, 0.5],
    ]);
  });

  test('topk largest and smallest, along a dim', () => {
    const v = tensor([3, 1, 4, 1, 5, 9, 2, 6]);
    const { values, indices } = v.topk(3);
    expect(values.toArray()).toEqual([9, 6, 5]);
    expect(indices.toArray()).toEqual([5, 7, 4]);
    expect(indices.dtype).toBe('int64');
    const low = v.topk(2, 0, false);
    expect(low.values.toArray()).toEqual([1, 1]);
    expect(flat(low.indices.toArray()).sort()).toEqual([1, 3]);
    const r = t.topk(1, 0);
    expect(r.values.toArray()).toEqual([[7, 8, 9]]);
    expect(r.indices.toArray()).toEqual([[2, 2, 2]]);
  });

  test('sort ascending and descending', () => {
    const v = tensor([3, 1, 2]);
    const up = v.sort();
    expect(up.values.toArray()).toEqual([1, 2, 3]);
    expect(up.indices.toArray()).toEqual([1, 2, 0]);
    const down = v.sort(-1, true);
    expect(down.values.toArray()).toEqual([3, 2, 1]);
    expect(down.indices.toArray()).toEqual([0, 2, 1]);
    const m = tensor([
      [2, 1],
      [0, 5],
    ]).sort(0);
    expect(m.values.toArray()).toEqual([
      [0, 1],
      [2, 5],
    ]);
    expect(m.indices.toArray()).toEqual([
      [1, 0],
      [0, 1],
    ]);
  });

  test('multinomial: reproducible under manualSeed, samples only non-zero weights, follows the weights', () => {
    const w = tensor([0, 3, 0, 1, 0]);
    manualSeed(7);
    const a = w.multinomial(1000, true);
    manualSeed(7);
    const b = w.multinomial(1000, true);
    expect(a.dtype).toBe('int64');
    expect(a.shape).toEqual([1000]);
    expect(b.toArray()).toEqual(a.toArray());
    const samples = flat(a.toArray());
    expect(samples.every((i) => i === 1 || i === 3)).toBe(true);
    const ones = samples.filter((i) => i === 1).length;
    expect(ones / 1000).toBeGreaterThan(0.68);
    expect(ones / 1000).toBeLessThan(0.82);
    // Without replacement: distinct indices, all with non-zero weight.
    manualSeed(8);
    const c = flat(tensor([0, 1, 0, 1, 1]).multinomial(3).toArray());
    expect([...c].sort()).toEqual([1, 3, 4]);
    // Batched: one row of samples per row of weights.
    const rows = tensor([
      [1, 0, 0],
      [0, 0, 2],
    ]).multinomial(4, true);
    expect(rows.toArray()).toEqual([
      [0, 0, 0, 0],
      [2, 2, 2, 2],
    ]);
  });
});

describe('joining and splitting', () => {
  const a = tensor([
    [1, 2],
    [3, 4],
  ]);
  const b = tensor([[5, 6]]);

  test('cat along dims 0 and 1', () => {
    expect(cat([a, b]).toArray()).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    expect(cat([a, a.mul(10)], 1).toArray()).toEqual([
      [1, 2, 10, 20],
      [3, 4, 30, 40],
    ]);
    expect(cat([a], 0).toArray()).toEqual(a.toArray());
    expect(cat([tensor([1]), tensor([2], { dtype: 'float64' })]).dtype).toBe('float64');
  });

  test('stack along a new dim', () => {
    expect(stack([tensor([1, 2]), tensor([3, 4])]).toArray()).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(stack([tensor([1, 2]), tensor([3, 4])], 1).toArray()).toEqual([
      [1, 3],
      [2, 4],
    ]);
    expect(stack([a, a, a], -1).shape).toEqual([2, 2, 3]);
  });

  test('split by size and by sizes; chunk', () => {
    const v = arange(7);
    expect(split(v, 3).map((p) => p.toArray())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    expect(v.split([2, 5]).map((p) => p.toArray())).toEqual([
      [0, 1],
      [2, 3, 4, 5, 6],
    ]);
    expect(chunk(v, 3).map((p) => p.toArray())).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    const m = arange(12).reshape([3, 4]);
    const halves = m.chunk(2, 1);
    expect(halves.map((h) => h.shape)).toEqual([
      [3, 2],
      [3, 2],
    ]);
    expect(halves[1].toArray()).toEqual([
      [2, 3],
      [6, 7],
      [10, 11],
    ]);
    expect(m.split(1, 0).length).toBe(3);
  });
});

describe('functional', () => {
  // Reference cross-entropy by loops over logits [B, T, C] and targets [B, T].
  function refCrossEntropy(logits: number[][][], targets: number[][], ignore: number) {
    const losses: number[][] = [];
    let sum = 0;
    let count = 0;
    for (let b = 0; b < logits.length; b++) {
      losses.push([]);
      for (let t = 0; t < logits[b].length; t++) {
        const row = logits[b][t];
        const target = targets[b][t];
        if (target === ignore) {
          losses[b].push(0);
          continue;
        }
        const mx = Math.max(...row);
        const lse = mx + Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
        const l = lse - row[target];
        losses[b].push(l);
        sum += l;
        count++;
      }
    }
    return { losses, sum, mean: sum / count };
  }

  const logitsData = nest(wave(2 * 3 * 5).map((v) => 3 * v), [2, 3, 5]) as number[][][];
  const targetsData = [
    [4, -100, 0],
    [2, 2, 1],
  ];
  const logits = f64(logitsData);
  const targets = i64(targetsData);

  test('crossEntropy mean/sum/none with the default ignoreIndex -100, classes on the last dim', () => {
    const ref = refCrossEntropy(logitsData, targetsData, -100);
    expectClose(crossEntropy(logits, targets), ref.mean, 1e-12, 1e-12);
    expect(crossEntropy(logits, targets).shape).toEqual([]);
    expectClose(crossEntropy(logits, targets, { reduction: 'sum' }), ref.sum, 1e-12, 1e-12);
    const none = crossEntropy(logits, targets, { reduction: 'none' });
    expect(none.shape).toEqual([2, 3]);
    expectClose(none, ref.losses, 1e-12, 1e-12);
  });

  test('crossEntropy with a custom ignoreIndex and 2-D logits', () => {
    const t2 = [[2, 2, 1, 0]];
    const l2 = [logitsData[1].concat([logitsData[0][0]])];
    const ref = refCrossEntropy(l2, t2, 2);
    const loss = crossEntropy(f64(l2).squeeze(0), i64(t2[0]), { ignoreIndex: 2 });
    expectClose(loss, ref.mean, 1e-12, 1e-12);
    // float32 logits give a float32 loss.
    const l32 = crossEntropy(logits.float(), targets);
    expect(l32.dtype).toBe('float32');
    expectClose(l32, refCrossEntropy(logitsData, targetsData, -100).mean, 1e-5, 1e-5);
  });

  test('linear: x W^T + b, with and without bias, batched', () => {
    const x = tensor([
      [1, 2, 3],
      [0, -1, 1],
    ]);
    const w = tensor([
      [1, 0, 0],
      [0, 1, 0],
      [1, 1, 1],
      [2, 0, -1],
    ]);
    const bias = tensor([0.5, 0, -1, 10]);
    expect(linear(x, w).toArray()).toEqual([
      [1, 2, 6, -1],
      [0, -1, 0, -1],
    ]);
    expect(linear(x, w, bias).toArray()).toEqual([
      [1.5, 2, 5, 9],
      [0.5, -1, -1, 9],
    ]);
    expect(linear(x.unsqueeze(0), w, bias).shape).toEqual([1, 2, 4]);
  });

  test('embedding picks rows by id', () => {
    const weight = tensor([
      [0, 0.5],
      [1, 1.5],
      [2, 2.5],
    ]);
    expect(
      embedding(
        i64([
          [0, 2],
          [1, 1],
        ]),
        weight,
      ).toArray(),
    ).toEqual([
      [
        [0, 0.5],
        [2, 2.5],
      ],
      [
        [1, 1.5],
        [1, 1.5],
      ],
    ]);
    expect(embedding(tensor([2], { dtype: 'int32' }), weight).toArray()).toEqual([[2, 2.5]]);
  });
});

describe('0-dim tensors', () => {
  test('ops on scalars keep 0 dims', () => {
    const s = tensor(3);
    expect(s.add(tensor(4)).shape).toEqual([]);
    expect(s.add(tensor(4)).item()).toBe(7);
    expect(s.mul(tensor([1, 2])).toArray()).toEqual([3, 6]);
    expect(s.unsqueeze(0).shape).toEqual([1]);
    expect(s.exp().item()).toBeCloseTo(Math.exp(3), 4);
    expect(tensor([5, 6]).sum().toArray()).toBe(11);
  });

  test('float32 values are float32 roundings', () => {
    expect(tensor([1 / 3]).item()).toBe(f32(1 / 3));
    expect(tensor([1 / 3]).mul(3).item()).toBe(1);
  });
});

test('Tensor operands of every op may be any Tensor of a compatible shape', () => {
  const a = zeros([2, 2]);
  expect(a.add(ones([2, 2])).toArray()).toEqual([
    [1, 1],
    [1, 1],
  ]);
  expect(a).toBeInstanceOf(Tensor);
});
