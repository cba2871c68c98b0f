// optimizeSaliency on the bundled tiny model, CPU: hidePrompt true vs false (the default reward's path).
const { LlamaModel, optimizeSaliency } = require('../dist');
const path = require('path');
(async () => {
  const model = await LlamaModel.load(path.join(__dirname, '../models/tiny-arith'), { device: 'cpu' });
  const V = 20, ex = [];
  let seed = 1; const r = () => ((seed = (seed * 48271) % 2147483647) / 2147483647);
  for (let i = 0; i < 32; i++) {
    const ids = Array.from({ length: 60 + (i % 8) }, () => 3 + Math.floor(r() * V));
    ex.push({ ids, cotStart: 20, cotEnd: ids.length - 4, answerStart: ids.length - 3, answerEnd: ids.length });
  }
  for (const hp of [true, false, true, false]) {
    const t = process.hrtime.bigint();
    await optimizeSaliency(model, ex, { steps: 30, batchSize: 16, hidePrompt: hp });
    console.log(`hidePrompt ${hp}: ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(2)} s`);
  }
})().catch((e) => { console.error(e); process.exit(1); });
