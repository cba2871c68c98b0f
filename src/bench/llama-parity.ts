// Our side of the 3B-config parity check: node dist/bench/llama-parity.js MODEL_DIR REF_JSON [OUT_JSON]
// REF_JSON comes from scripts/llama3b_parity.py (transformers, bf16, sdpa) on the same random-weight model. Loads
// MODEL_DIR with LlamaModel in bfloat16 on CUDA and prints, per prompt and overall: the max abs difference of the
// last-position logits relative to their std, top-1 agreement over all positions, and greedy agreement (identical
// leading tokens of 48; how many prompts reach >= 32).
import * as fs from 'fs';
import { LlamaModel } from '../llm/model';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';

interface Ref {
  meta: Record<string, unknown>;
  ids: number[][];
  top1: number[][];
  last: number[][];
  last_std: number[];
  margin: number[];
  greedy: number[][];
}

function leading(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

export async function runLlamaParity(modelDir: string, refPath: string, outPath?: string): Promise<void> {
  const ref = JSON.parse(fs.readFileSync(refPath, 'utf8')) as Ref;
  const t0 = Date.now();
  // ATMAN_PARITY_DEVICE=cpu: a smoke run of this script without a GPU.
  const device = process.env.ATMAN_PARITY_DEVICE ?? 'cuda';
  const model = await LlamaModel.load(modelDir, { device, dtype: 'bfloat16' });
  console.log(`loaded ${modelDir} (bf16, ${device}) in ${((Date.now() - t0) / 1000).toFixed(1)}s; reference: ${JSON.stringify(ref.meta)}`);
  const P = ref.ids.length;
  const T = ref.ids[0].length;
  const rows: { prompt: number; relDiff: number; maxDiff: number; std: number; top1: number; greedy: number; margin: number }[] = [];
  let agree = 0;
  const ours = noGrad(() =>
    tidy(() => {
      const logits = model.forward(tensor(ref.ids, { dtype: 'int64' }).to(device));
      const top1 = logits.argmax(-1).cpu().toArray() as bigint[][] | number[][];
      const last = logits.narrow(1, T - 1, 1).squeeze(1).float().cpu().toArray() as number[][];
      return { top1: top1.map((r) => r.map(Number)), last };
    }),
  );
  const gen = await model.generate(ref.ids, { maxNewTokens: ref.greedy[0].length, temperature: 0 });
  for (let p = 0; p < P; p++) {
    let maxDiff = 0;
    for (let v = 0; v < ref.last[p].length; v++) maxDiff = Math.max(maxDiff, Math.abs(ours.last[p][v] - ref.last[p][v]));
    let a = 0;
    for (let t = 0; t < T; t++) if (ours.top1[p][t] === ref.top1[p][t]) a++;
    agree += a;
    rows.push({
      prompt: p,
      maxDiff,
      std: ref.last_std[p],
      relDiff: maxDiff / ref.last_std[p],
      top1: a / T,
      greedy: leading(gen.tokens[p], ref.greedy[p]),
      margin: ref.margin[p],
    });
  }
  model.dispose();
  const n = ref.greedy[0].length;
  console.log('\n| prompt | max abs diff, last logits | logit std | diff / std | top-1 agreement (all positions) | greedy: identical leading tokens | HF top1-top2 margin (last) |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.prompt} | ${r.maxDiff.toFixed(4)} | ${r.std.toFixed(3)} | ${r.relDiff.toFixed(4)} | ${(100 * r.top1).toFixed(1)}% | ${r.greedy} / ${n} | ${r.margin.toFixed(4)} |`);
  const reach = rows.filter((r) => r.greedy >= 32).length;
  const summary = {
    maxRelDiff: Math.max(...rows.map((r) => r.relDiff)),
    top1Agreement: agree / (P * T),
    greedyLeading: rows.map((r) => r.greedy),
    promptsReaching32: reach,
    prompts: P,
  };
  console.log(
    `\noverall: max |diff| / std ${summary.maxRelDiff.toFixed(4)}, top-1 agreement ${(100 * summary.top1Agreement).toFixed(1)}% ` +
      `of ${P * T} positions, greedy leading tokens ${JSON.stringify(summary.greedyLeading)} (of ${n}), ${reach}/${P} prompts reach >= 32`,
  );
  if (outPath) fs.writeFileSync(outPath, JSON.stringify({ rows, summary, ours: { greedy: gen.tokens } }, null, 2));
}

if (require.main === module) {
  const [modelDir, refPath, outPath] = process.argv.slice(2);
  if (!modelDir || !refPath) {
    console.error('usage: node dist/bench/llama-parity.js MODEL_DIR REF_JSON [OUT_JSON]');
    process.exit(2);
  }
  runLlamaParity(modelDir, refPath, outPath).catch((e: unknown) => {
    console.error(e instanceof Error ? e.stack : String(e));
    process.exit(1);
  });
}
