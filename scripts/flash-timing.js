// Quick timing of the fused attention (forward, forward+backward) at the Llama-3.2-3B shapes of issue 3; not the
// bench (bench/attention has the table with peers). Run on the GPU host after the TS build: node scripts/flash-timing.js
'use strict';
const at = require('../dist');

function time(fn, iters) {
  fn();
  at.cuda.synchronize();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) fn();
  at.cuda.synchronize();
  return Number(process.hrtime.bigint() - t0) / 1e6 / iters;
}

for (const [B, T] of [[8, 512], [4, 1024], [2, 2048], [1, 4096]]) {
  at.tidy(() => {
    const [Hq, Hkv, D] = [24, 8, 128];
    const dev = { dtype: 'bfloat16', device: 'cuda' };
    const q = at.randn([B, Hq, T, D], dev).requiresGrad_();
    const k = at.randn([B, Hkv, T, D], dev).requiresGrad_();
    const v = at.randn([B, Hkv, T, D], dev).requiresGrad_();
    const bias = at.randn([B, T], { device: 'cuda' }).requiresGrad_();
    const g = at.randn([B, Hq, T, D], dev);
    const fwd = time(() => at.tidy(() => { at.noGrad(() => at.attention(q, k, v, { keyBias: bias })); }), 20);
    const fb = time(() => at.tidy(() => { at.grad(at.attention(q, k, v, { keyBias: bias }), [bias], { gradOutputs: [g] }); }), 20);
    const flopsF = 4 * B * Hq * T * T * D / 2;  // causal
    console.log(`B=${B} T=${T}: fwd ${fwd.toFixed(3)} ms (${(flopsF / fwd / 1e9).toFixed(0)} TFLOP/s), fwd+bwd ${fb.toFixed(3)} ms (${(3.5 * flopsF / fb / 1e9).toFixed(0)} TFLOP/s)`);
  });
}
