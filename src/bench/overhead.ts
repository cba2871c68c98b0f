// Per-call overhead of small tensor ops through the JS API (the PyTorch peer is bench/overhead.py).
import * as fs from 'fs';
import { randn } from '../tensor/creation';
import { cuda } from '../tensor/runtime';
import { tidy } from '../tensor/scope';

export interface OverheadCase {
  case: string;
  device: string;
  usPerCall: number;
}

function sync(device: string): void {
  if (device.startsWith('cuda')) cuda.synchronize();
}

// Lets the event loop run the finalizers of released handles (Node runs them only between turns).
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Median of `repeats` runs of `iters` calls of fn, in microseconds per call. */
async function timeCalls(fn: () => void, iters: number, device: string, repeats = 5): Promise<number> {
  for (let i = 0; i < Math.min(iters, 2000); i++) fn();
  sync(device);
  const runs: number[] = [];
  for (let r = 0; r < repeats; r++) {
    await turn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iters; i++) fn();
    sync(device);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / iters);
  }
  runs.sort((a, b) => a - b);
  return runs[Math.floor(runs.length / 2)];
}

export async function runOverheadBench(opts: { device: string; iters: number; json?: string }): Promise<OverheadCase[]> {
  const results: OverheadCase[] = [];
  for (const n of [1, 1024]) {
    const shape = n === 1 ? [1] : [1024, 1024];
    const a = randn(shape, { device: opts.device });
    const b = randn(shape, { device: opts.device });
    const iters = n === 1 ? opts.iters : Math.max(200, Math.floor(opts.iters / 10));
    const label = n === 1 ? 'add 1 element' : 'add 1024x1024';
    results.push({ case: `${label}, dispose() each`, device: opts.device, usPerCall: await timeCalls(() => a.add(b).dispose(), iters, opts.device) });
    results.push({ case: `${label}, tidy() each`, device: opts.device, usPerCall: await timeCalls(() => tidy(() => { a.add(b); }), iters, opts.device) });
    a.dispose();
    b.dispose();
  }
  console.log('| case | device | µs per call |');
  console.log('| --- | --- | ---: |');
  for (const r of results) console.log(`| ${r.case} | ${r.device} | ${r.usPerCall.toFixed(2)} |`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(results, null, 2));
  return results;
}
