// Memory: explicit dispose, `using`, tidy scopes, and garbage collection as a safety net.
// Runs with node --expose-gc (npm test); the GC tests fail with a clear message without it.
import { Tensor, keep, memory, ones, randn, tensor, tidy, zeros } from '../src';
import { collectGarbage } from './helpers';

const MB = 1024 * 1024;

/** Lets garbage from earlier tests (and test files sharing this process) be collected, then reads the count. */
async function settledTensorCount(): Promise<number> {
  let last = -1;
  for (let i = 0; i < 20; i++) {
    await collectGarbage(2);
    const now = memory().tensors;
    if (now === last) return now;
    last = now;
  }
  return last;
}

function rss(): number {
  return process.memoryUsage().rss;
}

/**
 * Runs cycle n times in batches of 1000, letting the event loop turn between batches as a real program does:
 * Node-API runs the finalizers of collected handles on the event loop, so a loop that never yields holds about
 * 200 bytes per handle it made (freed at the next turn, not leaked) and would measure that backlog instead of leaks.
 */
async function runCycles(n: number, cycle: (i: number) => number): Promise<number> {
  let acc = 0;
  for (let i = 0; i < n; i++) {
    acc += cycle(i);
    if (i % 1000 === 999) await new Promise((resolve) => setImmediate(resolve));
  }
  return acc;
}

test('global.gc is available (node --expose-gc)', async () => {
  await expect(collectGarbage(1)).resolves.toBeUndefined();
});

describe('memory()', () => {
  test('reports live tensors and their CPU bytes; dispose gives them back', async () => {
    const base = await settledTensorCount();
    const m0 = memory();
    expect(Object.keys(m0).sort()).toEqual(['cpuBytes', 'cpuCachedBytes', 'cudaBytes', 'tensors']);
    const t = zeros([1000], { dtype: 'float64' });
    const m1 = memory();
    expect(m1.tensors).toBe(base + 1);
    expect(m1.cpuBytes - m0.cpuBytes).toBe(8000);
    // A view shares its storage: one more tensor, no more bytes.
    const v = t.view([10, 100]);
    expect(memory().tensors).toBe(base + 2);
    expect(memory().cpuBytes - m0.cpuBytes).toBe(8000);
    v.dispose();
    t.dispose();
    expect(memory().tensors).toBe(base);
    expect(memory().cpuBytes).toBe(m0.cpuBytes);
    expect(memory().cudaBytes).toBeGreaterThanOrEqual(0);
  });
});

describe('dispose and using', () => {
  test('disposing twice is harmless; a disposed tensor throws on use', () => {
    const t = ones([3]);
    t.dispose();
    expect(t.isDisposed).toBe(true);
    expect(() => t.dispose()).not.toThrow();
    expect(() => t.add(1)).toThrow(/^disposed tensor/);
    expect(() => t.shape).toThrow(/^disposed tensor/);
    expect(() => ones([3]).add(t)).toThrow(/^disposed tensor/);
    expect(String(t)).toBe('Tensor(disposed)');
  });

  test('`using` disposes at the end of the block, also when the block throws', () => {
    const base = memory().tensors;
    let seen: Tensor | undefined;
    {
      using t = ones([4]);
      seen = t;
      expect(t.sum().item()).toBe(4); // the sum is not in a `using`: dispose it by hand
      expect(memory().tensors).toBeGreaterThan(base);
    }
    expect(seen.isDisposed).toBe(true);
    const run = () => {
      using u = zeros([2]);
      seen = u;
      throw new Error('inside');
    };
    expect(run).toThrow('inside');
    expect(seen.isDisposed).toBe(true);
  });

  test('Symbol.dispose is the same as dispose()', () => {
    const t = ones([1]);
    t[Symbol.dispose]();
    expect(t.isDisposed).toBe(true);
  });

  test('the grad getter gives a new handle each time: disposing it keeps the gradient', () => {
    const p = ones([2], { requiresGrad: true });
    p.mul(3).sum().backward();
    const g = p.grad as Tensor;
    g.dispose();
    expect(p.grad?.toArray()).toEqual([3, 3]);
  });
});

describe('tidy', () => {
  test('disposes what was made inside except the returned tensor', () => {
    const base = memory().tensors;
    let inner: Tensor | undefined;
    const out = tidy(() => {
      inner = ones([2]).mul(3);
      return inner.add(1);
    });
    expect(inner?.isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    expect(out.toArray()).toEqual([4, 4]);
    expect(memory().tensors).toBe(base + 1);
    out.dispose();
    expect(memory().tensors).toBe(base);
  });

  test('keeps tensors inside returned arrays, plain objects and Maps', () => {
    const base = memory().tensors;
    const r = tidy(() => {
      const a = tensor([1, 2]);
      const scratch = a.mul(100);
      scratch.add(1);
      return { list: [a, a.add(1)], nested: { deep: [a.mul(2)] }, map: new Map([['k', a.neg()]]), n: 5 };
    });
    expect(r.list[0].toArray()).toEqual([1, 2]);
    expect(r.list[1].toArray()).toEqual([2, 3]);
    expect(r.nested.deep[0].toArray()).toEqual([2, 4]);
    expect(r.map.get('k')?.toArray()).toEqual([-1, -2]);
    expect(r.n).toBe(5);
    expect(memory().tensors).toBe(base + 4);
    for (const t of [...r.list, ...r.nested.deep, ...r.map.values()]) t.dispose();
    expect(memory().tensors).toBe(base);
  });

  test('leaves tensors made before it alone, and keep() saves one from the scope', () => {
    const outside = ones([2]);
    let kept: Tensor | undefined;
    let dropped: Tensor | undefined;
    tidy(() => {
      const x = outside.add(1);
      kept = keep(x.mul(2));
      dropped = x;
      return 0;
    });
    expect(outside.isDisposed).toBe(false);
    expect(dropped?.isDisposed).toBe(true);
    expect(kept?.toArray()).toEqual([4, 4]);
  });

  test('nested scopes: the inner result moves to the outer scope and is disposed with it unless returned', () => {
    const base = memory().tensors;
    let innerResult: Tensor | undefined;
    const outer = tidy(() => {
      innerResult = tidy(() => ones([2]).add(1));
      expect(innerResult.isDisposed).toBe(false);
      return innerResult.mul(2);
    });
    expect(innerResult?.isDisposed).toBe(true);
    expect(outer.toArray()).toEqual([4, 4]);
    outer.dispose();
    expect(memory().tensors).toBe(base);
  });

  test('disposes everything if fn throws, and rethrows', () => {
    const base = memory().tensors;
    const made: Tensor[] = [];
    expect(() =>
      tidy(() => {
        made.push(ones([3]), zeros([3]));
        made.push(made[0].add(made[1]));
        throw new RangeError('fail inside');
      }),
    ).toThrow('fail inside');
    expect(made.every((t) => t.isDisposed)).toBe(true);
    expect(memory().tensors).toBe(base);
  });

  test('refuses an async function', () => {
    const base = memory().tensors;
    expect(() => tidy(async () => ones([1]))).toThrow(/^tidy\(\) needs a synchronous function/);
    expect(memory().tensors).toBe(base);
  });
});

describe('long runs do not leak', () => {
  test('20,000 create/compute/dispose cycles keep the tensor count and RSS (< 50 MB growth)', async () => {
    // Every intermediate is named and disposed: nothing is left for the garbage collector.
    const cycle = (i: number) => {
      const a = randn([8, 8]);
      const b = tensor([i, i + 1, i + 2, i + 3], { shape: [2, 2] });
      const mm = a.matmul(a);
      const shifted = mm.add(1);
      const c = shifted.relu();
      const rows = c.narrow(0, 0, 2);
      const corner = rows.narrow(1, 0, 2);
      const d = corner.mul(b);
      const s = d.sum();
      const v = s.item() as number;
      for (const t of [a, b, mm, shifted, c, rows, corner, d, s]) t.dispose();
      return v;
    };
    await runCycles(1000, cycle); // warm-up: allocator pools, JIT
    const base = await settledTensorCount();
    const rss0 = rss();
    const acc = await runCycles(20000, cycle);
    expect(Number.isFinite(acc)).toBe(true);
    expect(memory().tensors).toBe(base);
    await collectGarbage(3);
    const growth = rss() - rss0;
    expect(growth).toBeLessThan(50 * MB);
    expect(memory().tensors).toBe(base);
  });

  test('20,000 tidy cycles keep the tensor count and RSS (< 50 MB growth)', async () => {
    const cycle = (i: number) =>
      tidy(() => {
        const x = ones([4, 4]).mul(i % 7);
        const y = x.matmul(x.transpose(0, 1)).softmax(-1);
        return y.sum().item() as number;
      });
    const kept = () =>
      tidy(() => {
        const w = zeros([16]);
        return [w.add(1), { also: w.mul(2) }];
      });
    const step = (i: number) => {
      if (i % 10 === 0) {
        const [a, o] = kept() as [Tensor, { also: Tensor }];
        a.dispose();
        o.also.dispose();
      }
      return cycle(i);
    };
    await runCycles(1000, step);
    const base = await settledTensorCount();
    const rss0 = rss();
    const acc = await runCycles(20000, step);
    expect(acc).toBeCloseTo(4 * 20000, 0); // each softmax row sums to 1: 4 rows
    expect(memory().tensors).toBe(base);
    await collectGarbage(3);
    expect(rss() - rss0).toBeLessThan(50 * MB);
    expect(memory().tensors).toBe(base);
  });
});

describe('garbage collection is a safety net', () => {
  test('1000 forgotten tensors are freed by GC alone', async () => {
    const base = await settledTensorCount();
    const bytes0 = memory().cpuBytes;
    // Made in a function scope and never disposed: only the garbage collector can free them.
    const make = () => {
      const list: Tensor[] = [];
      for (let i = 0; i < 1000; i++) list.push(ones([256]).mul(i));
      return { count: memory().tensors, bytes: memory().cpuBytes, last: list[999].sum().item() };
    };
    const made = make();
    // The 1000 results (the ones() and sum() temporaries are garbage too, so there may be more).
    expect(made.count).toBeGreaterThanOrEqual(base + 1000);
    expect(made.bytes - bytes0).toBeGreaterThanOrEqual(1000 * 256 * 4);
    expect(made.last).toBe(999 * 256);
    let now = memory().tensors;
    for (let round = 0; round < 30 && now > base; round++) {
      await collectGarbage(2);
      now = memory().tensors;
    }
    expect(now).toBe(base);
    expect(memory().cpuBytes).toBe(bytes0);
  });
});

describe('RSS stays flat in a loop of large tensors disposed explicitly', () => {
  // With glibc's malloc this loop grew RSS by about 0.7 GB per 1,000 iterations (5 GB at 20k) with no tensor alive:
  // small handle blocks pinned the holes freed tensors left (native/memory/cpu_allocator.h). The allocator reuses
  // its blocks instead, and its cache of freed blocks is capped.
  test('2,000 iterations of two 1 MB tensors', () => {
    const x = randn([512, 512]);
    const step = () => {
      const y = x.add(1);
      const z = y.mul(x);
      y.dispose();
      z.dispose();
    };
    for (let i = 0; i < 50; i++) step();
    const before = process.memoryUsage().rss;
    let peak = before;
    for (let i = 0; i < 2000; i++) {
      step();
      if (i % 100 === 0) peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect((peak - before) / 2 ** 20).toBeLessThan(64);
    const m = memory();
    expect(m.cpuCachedBytes).toBeGreaterThan(0);
    expect(m.cpuCachedBytes).toBeLessThanOrEqual(2 ** 30);
    x.dispose();
  });
});
