// The tensor API on CUDA, checked against the CPU. Skips itself without CUDA; run with `npm run test:gpu`.
import * as at from '../../src';
import { Tensor } from '../../src';
import { kind, thrown } from '../helpers';

const hasCuda = at.cuda.isAvailable();
const describeCuda = hasCuda ? describe : describe.skip;

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return at.tidy(() => a.cpu().double().sub(b.cpu().double()).abs().max().item() as number);
}

function maxAbs(a: Tensor): number {
  return at.tidy(() => a.cpu().double().abs().max().item() as number);
}

describeCuda('CUDA tensor ops match the CPU', () => {
  beforeAll(() => at.manualSeed(1234));

  type Case = [string, (x: Tensor, y: Tensor) => Tensor];
  const cases: Case[] = [
    ['add', (x, y) => x.add(y)], ['sub scalar', (x) => x.sub(0.5)], ['mul broadcast', (x, y) => x.mul(y.narrow(0, 0, 1))],
    ['div', (x, y) => x.div(y.abs().add(1))], ['pow', (x) => x.abs().pow(1.5)], ['exp', (x) => x.exp()],
    ['log', (x) => x.abs().add(1e-3).log()], ['sqrt', (x) => x.abs().sqrt()], ['rsqrt', (x) => x.abs().add(1).rsqrt()],
    ['tanh', (x) => x.tanh()], ['sigmoid', (x) => x.sigmoid()], ['relu', (x) => x.relu()], ['silu', (x) => x.silu()],
    ['gelu', (x) => x.gelu()], ['clamp', (x) => x.clamp(-0.5, 0.5)], ['maximum', (x, y) => x.maximum(y)],
    ['minimum', (x, y) => x.minimum(y)], ['where', (x, y) => at.where(x.gt(0), x, y)],
    ['sum dim', (x) => x.sum(1)], ['mean keepdim', (x) => x.mean(0, true)], ['max dim', (x) => x.max(1)],
    ['argmax', (x) => x.argmax(1).float()], ['logsumexp', (x) => x.logsumexp(1)], ['norm', (x) => x.norm(1)],
    ['std', (x) => x.std(1)], ['var', (x) => x.var(0)], ['cumsum', (x) => x.cumsum(1)], ['softmax', (x) => x.softmax(1)],
    ['logSoftmax', (x) => x.logSoftmax(1)], ['matmul', (x, y) => x.matmul(y.transpose(0, 1))],
    ['transpose contiguous', (x) => x.transpose(0, 1).contiguous()], ['narrow', (x) => x.narrow(1, 3, 7)],
    ['gather', (x) => x.gather(1, at.tensor([[0, 2], [1, 1], [5, 4], [9, 0]], { dtype: 'int64' }).to(x.device))],
    ['indexSelect', (x) => x.indexSelect(1, at.tensor([3, 1, 4], { dtype: 'int64' }).to(x.device))],
    ['maskedFill', (x) => x.maskedFill(x.lt(0), -1)], ['cat', (x, y) => at.cat([x, y], 1)],
    ['stack', (x, y) => at.stack([x, y], 0)], ['sort', (x) => x.sort(1).values], ['topk', (x) => x.topk(3, 1).values],
    ['crossEntropy', (x) => at.crossEntropy(x, at.tensor([1, 0, 3, 9], { dtype: 'int64' }).to(x.device), { reduction: 'none' })],
    ['linear', (x, y) => at.linear(x, y, x.narrow(0, 0, 1).squeeze(0).narrow(0, 0, 4))],
  ];

  test.each(cases)('%s', (_name, fn) => {
    at.tidy(() => {
      const x = at.randn([4, 10], { dtype: 'float64' });
      const y = at.randn([4, 10], { dtype: 'float64' });
      const expected = fn(x, y);
      const actual = fn(x.cuda().float(), y.cuda().float());
      expect(actual.device).toBe('cuda:0');
      expect(actual.shape).toEqual(expected.shape);
      expect(maxAbsDiff(actual, expected)).toBeLessThan(1e-4 * Math.max(1, maxAbs(expected)));
    });
  });

  test('bf16 matmul is close to the float64 product', () => {
    at.tidy(() => {
      const a = at.randn([256, 512], { dtype: 'float64' });
      const b = at.randn([512, 128], { dtype: 'float64' });
      const exact = a.matmul(b);
      const bf = a.cuda().bfloat16().matmul(b.cuda().bfloat16());
      expect(bf.dtype).toBe('bfloat16');
      const rel = maxAbsDiff(bf, exact) / maxAbs(exact);
      expect(rel).toBeLessThan(2e-2);
    });
  });

  test('autograd on CUDA gives the CPU gradients', () => {
    at.tidy(() => {
      const x0 = at.randn([5, 6], { dtype: 'float64' });
      const w0 = at.randn([6, 3], { dtype: 'float64' });
      const run = (device: string) => {
        const x = x0.to(device).detach().requiresGrad_();
        const w = w0.to(device).detach().requiresGrad_();
        const loss = x.matmul(w).tanh().softmax(1).log().mul(x.sum(1, true).sigmoid()).sum();
        loss.backward();
        return [x.grad!, w.grad!];
      };
      const [gx, gw] = run('cpu');
      const [cx, cw] = run('cuda');
      expect(cx.device).toBe('cuda:0');
      expect(maxAbsDiff(cx, gx)).toBeLessThan(1e-10);
      expect(maxAbsDiff(cw, gw)).toBeLessThan(1e-10);
    });
  });

  test('AdamW on CUDA follows the CPU trajectory', () => {
    at.tidy(() => {
      const init = at.randn([8], { dtype: 'float64' });
      const run = (device: string) => {
        const p = init.to(device).detach().requiresGrad_();
        const opt = new at.optim.AdamW([p], { lr: 0.1, weightDecay: 0.05 });
        for (let i = 0; i < 5; i++) {
          opt.zeroGrad();
          p.pow(2).sum().backward();
          opt.step();
        }
        return p;
      };
      expect(maxAbsDiff(run('cuda'), run('cpu'))).toBeLessThan(1e-12);
    });
  });
});

describeCuda('CUDA copies, async reads and memory', () => {
  test.each(['float32', 'float16', 'bfloat16', 'float64', 'int64', 'int32', 'bool', 'uint8'] as const)('%s round trip CPU -> CUDA -> CPU', (dtype) => {
    at.tidy(() => {
      const values = dtype === 'bool' ? [true, false, true] : [0, 1, 2, 3, 100, 7];
      const t = at.tensor(values, { dtype });
      const back = t.cuda().cpu();
      expect(back.dtype).toBe(dtype);
      expect(back.toArray()).toEqual(t.toArray());
    });
  });

  test('data() copies off the JS thread and equals dataSync()', async () => {
    const t = at.randn([2048, 1024], { device: 'cuda' });
    const pending = t.data();
    t.dispose(); // the copy holds its own reference
    const values = await pending;
    expect(kind(values)).toBe('Float32Array');
    expect(values.length).toBe(2048 * 1024);
    expect(Number.isFinite((values as Float32Array)[12345])).toBe(true);
  });

  test('memory() and cuda.memory() see allocations and frees', () => {
    at.cuda.synchronize();
    const before = at.cuda.memory().allocatedBytes;
    const t = at.zeros([1024, 1024], { device: 'cuda' });
    expect(at.cuda.memory().allocatedBytes - before).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(at.memory().cudaBytes).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    t.dispose();
    expect(at.cuda.memory().allocatedBytes).toBe(before);
    at.cuda.emptyCache();
    expect(at.cuda.deviceCount()).toBeGreaterThanOrEqual(1);
    expect(at.cuda.devices()[0].name.length).toBeGreaterThan(0);
  });

  test('out of memory is a RangeError and the process goes on', () => {
    const e = thrown(() => at.empty([1 << 20, 1 << 20, 64], { device: 'cuda' }));
    expect(e.name).toBe('RangeError');
    expect(e.message).toMatch(/^out of memory: /);
    const ok = at.ones([3], { device: 'cuda' });
    expect(ok.sum().item()).toBe(3);
    ok.dispose();
  });

  test('a device that does not exist is a RangeError', () => {
    const e = thrown(() => at.zeros([1], { device: 'cuda:99' }));
    expect(e.name).toBe('RangeError');
    expect(e.message).toMatch(/cuda:99/);
  });
});

describeCuda('safetensors and attention on CUDA', () => {
  test('load() straight to CUDA gives the saved values', () => {
    const dir = require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'atman-gpu-'));
    const file = require('path').join(dir, 'w.safetensors');
    at.tidy(() => {
      const w = at.randn([3, 5]).bfloat16();
      at.save(file, { w });
      const { tensors } = at.load(file, { device: 'cuda' });
      expect(tensors.w.device).toBe('cuda:0');
      expect(tensors.w.dtype).toBe('bfloat16');
      expect(maxAbsDiff(tensors.w, w)).toBe(0);
    });
  });

  test('save() reads non-contiguous GPU tensors back, load() of int64 goes to the GPU too', () => {
    const dir = require('fs').mkdtempSync(require('path').join(require('os').tmpdir(), 'atman-gpu-'));
    const p = require('path').join(dir, 'cuda.safetensors');
    at.tidy(() => {
      at.save(p, { w: at.tensor([[1, 2], [3, 4]], { dtype: 'bfloat16', device: 'cuda' }).transpose(0, 1), n: at.tensor([5, 6], { dtype: 'int64' }) });
      const { tensors } = at.load(p, { device: 'cuda' });
      expect(tensors.w.device).toBe('cuda:0');
      expect(tensors.n.device).toBe('cuda:0');
      expect(tensors.w.toArray()).toEqual([[1, 3], [2, 4]]);
      expect(tensors.n.toArray()).toEqual([5, 6]);
    });
  });

  test('the reference attention on CUDA matches the CPU, gradients included', () => {
    at.tidy(() => {
      const q = at.randn([2, 4, 7, 16], { dtype: 'float64' });
      const k = at.randn([2, 2, 9, 16], { dtype: 'float64' });
      const v = at.randn([2, 2, 9, 16], { dtype: 'float64' });
      const bias = at.randn([2, 9]).mul(0.5);
      const run = (device: string) => {
        const b = bias.to(device).detach().requiresGrad_();
        const out = at.attention(q.to(device), k.to(device), v.to(device), { keyBias: b, biasQueryStart: 4 });
        out.pow(2).sum().backward();
        return [out, b.grad!];
      };
      const [o1, g1] = run('cpu');
      const [o2, g2] = run('cuda');
      expect(maxAbsDiff(o2, o1)).toBeLessThan(1e-10);
      expect(maxAbsDiff(g2, g1)).toBeLessThan(1e-5);
    });
  });
});

if (!hasCuda) {
  // Keeps the file valid on CPU hosts: the describe blocks above are skipped there.
  test.skip('CUDA is not available on this host', () => undefined);
}
