// Prints the data-parallel table from runs' metrics.jsonl: per run, the median over steps 2.. of the step time
// (generate + saliency + log-probs + update), completions' tokens per second, and the all-reduce time per step
// (time/all_reduce: the gradient all-reduce time not hidden behind backward), with the speedup over the first run.
//   node bench/distributed-table.js RUNS_DIR NAME...
const fs = require('fs');
const path = require('path');

const [runsDir, ...names] = process.argv.slice(2);
const median = (x) => {
  const s = [...x].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = names.map((name) => {
  const lines = fs.readFileSync(path.join(runsDir, name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const timed = lines.filter((r) => r.step > 1); // step 1 warms up (allocator, NCCL communicators)
  const stepTime = timed.map((r) => r['time/generate'] + r['time/saliency'] + r['time/logprobs'] + r['time/update']);
  return {
    name, steps: timed.length, step: median(stepTime), tokensPerSecond: median(timed.map((r) => r.tokens_per_second)),
    allReduce: median(timed.map((r) => r['time/all_reduce'] ?? 0)), update: median(timed.map((r) => r['time/update'])),
  };
});
console.log('| run | steps timed | step time (s) | update (s) | all-reduce per step (s) | tokens/s | speedup |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.name} | ${r.steps} | ${r.step.toFixed(2)} | ${r.update.toFixed(2)} | ${r.allReduce.toFixed(3)} | ${r.tokensPerSecond.toFixed(0)} | ${(rows[0].step / r.step).toFixed(2)}x |`);
