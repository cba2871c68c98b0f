// Our side of the 3B-config parity check: node dist/bench/llama-parity.js MODEL_DIR REF_JSON [OUT_JSON]
// REF_JSON comes from scripts/llama3b_parity.py (transformers, sdpa) on the same random-weight model: bf16 results
// and, when present, float32 results of the same weights. Loads MODEL_DIR with LlamaModel in bfloat16 on CUDA (and in
// float32 when the reference has fp32 results) and prints, per prompt: the max abs difference of the last-position
// logits relative to their std, top-1 agreement over all positions, and greedy agreement (identical leading tokens;
// how many prompts reach >= 32). The row "transformers bf16 vs transformers fp32" is the bf16 noise floor.
import * as fs from 'fs';
import { Dtype } from '../tensor/dtype';
import { LlamaModel } from '../llm/model';
import { tensor } from '../tensor/creation';
import { noGrad } from '../tensor/functions';
import { tidy } from '../tensor/scope';

interface Outputs {
  top1: number[][];
  last: number[][];
  greedy: number[][];
}

interface Ref extends Outputs {
  meta: Record<string, unknown>;
  ids: number[][];
  last_std: number[];
  margin: number[];
  fp32?: Outputs;
}

function leading(a: number[], b: number[]): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

async function run(modelDir: string, ref: Ref, device: string, dtype: Dtype): Promise<Outputs> {
  const t0 = Date.now();
  const model = await LlamaModel.load(modelDir, { device, dtype });
  console.log(`loaded ${modelDir} (${dtype}, ${device}) in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  const T = ref.ids[0].length;
  try {
    const out = noGrad(() =>
      tidy(() => {
        const logits = model.forward(tensor(ref.ids, { dtype: 'int64' }).to(device));
        const top1 = (logits.argmax(-1).cpu().toArray() as (bigint | number)[][]).map((r) => r.map(Number));
        const last = logits.narrow(1, T - 1, 1).squeeze(1).float().cpu().toArray() as number[][];
        return { top1, last };
      }),
    );
    const gen = await model.generate(ref.ids, { maxNewTokens: ref.greedy[0].length, temperature: 0 });
    return { ...out, greedy: gen.tokens };
  } finally {
    model.dispose();
  }
}

interface Row {
  prompt: number;
  maxDiff: number;
  relDiff: number;
  top1: number;
  greedy: number;
}

function compare(a: Outputs, b: Outputs, std: number[]): Row[] {
  return a.last.map((_, p) => {
    let maxDiff = 0;
    for (let v = 0; v < a.last[p].length; v++) maxDiff = Math.max(maxDiff, Math.abs(a.last[p][v] - b.last[p][v]));
    let agree = 0;
    for (let t = 0; t < a.top1[p].length; t++) if (a.top1[p][t] === b.top1[p][t]) agree++;
    return { prompt: p, maxDiff, relDiff: maxDiff / std[p], top1: agree / a.top1[p].length, greedy: leading(a.greedy[p], b.greedy[p]) };
  });
}

export async function runLlamaParity(modelDir: string, refPath: string, outPath?: string): Promise<void> {
  const ref = JSON.parse(fs.readFileSync(refPath, 'utf8')) as Ref;
  console.log(`reference: ${JSON.stringify(ref.meta)}`);
  // ATMAN_PARITY_DEVICE=cpu: a smoke run of this script without a GPU.
  const device = process.env.ATMAN_PARITY_DEVICE ?? 'cuda';
  const n = ref.greedy[0].length;
  const pairs: [string, Outputs, Outputs][] = [];
  const bf16 = await run(modelDir, ref, device, 'bfloat16');
  pairs.push(['atman-native bf16 vs transformers bf16', bf16, ref]);
  let fp32: Outputs | null = null;
  if (ref.fp32) {
    fp32 = await run(modelDir, ref, device, 'float32');
    pairs.push(['atman-native fp32 vs transformers fp32', fp32, ref.fp32]);
    pairs.push(['transformers bf16 vs transformers fp32 (noise floor)', ref, ref.fp32]);
    pairs.push(['atman-native bf16 vs transformers fp32', bf16, ref.fp32]);
  }
  console.log(`\nlast-position logit std ${ref.last_std.map((s) => s.toFixed(3)).join(', ')}; transformers bf16 top1-top2 margins ` +
    `${ref.margin.map((m) => m.toFixed(4)).join(', ')}\n`);
  console.log('| comparison | prompt | max abs diff, last logits | diff / logit std | top-1 agreement (all positions) | greedy: identical leading tokens |');
  console.log('|---|---|---|---|---|---|');
  const summary: Record<string, unknown>[] = [];
  for (const [name, a, b] of pairs) {
    const rows = compare(a, b, ref.last_std);
    for (const r of rows)
      console.log(`| ${name} | ${r.prompt} | ${r.maxDiff.toFixed(4)} | ${r.relDiff.toFixed(4)} | ${(100 * r.top1).toFixed(1)}% | ${r.greedy} / ${n} |`);
    const s = {
      comparison: name,
      maxRelDiff: Math.max(...rows.map((r) => r.relDiff)),
      top1Agreement: rows.reduce((acc, r) => acc + r.top1, 0) / rows.length,
      greedyLeading: rows.map((r) => r.greedy),
      promptsReaching32: rows.filter((r) => r.greedy >= 32).length,
    };
    summary.push(s);
  }
  console.log('\n| comparison | max diff / std | top-1 agreement | greedy leading tokens (of ' + n + ') | prompts >= 32 |');
  console.log('|---|---|---|---|---|');
  for (const s of summary)
    console.log(`| ${s.comparison} | ${(s.maxRelDiff as number).toFixed(4)} | ${(100 * (s.top1Agreement as number)).toFixed(1)}% | ` +
      `${JSON.stringify(s.greedyLeading)} | ${s.promptsReaching32}/${ref.ids.length} |`);
  if (outPath) fs.writeFileSync(outPath, JSON.stringify({ summary, ours: { bf16: bf16.greedy, fp32: fp32?.greedy } }, null, 2));
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
