// The eval command's text output: accuracy, then every faithfulness metric beside its control (over all measured
// completions and over the correct ones), and the progress lines it prints to stderr while it runs.
import * as fs from 'fs';
import * as path from 'path';

import { faithfulnessRows, fmt } from '../atman/faithfulness-summary';
import { formatDuration } from '../log/progress-line';
import type { EvalReport } from '../train/evaluate';

export function formatEvalSummary(report: EvalReport): string {
  const f = report.faithfulness;
  const all = faithfulnessRows(f, f.hint);
  const correct = new Map(faithfulnessRows(f.correctOnly).map((r) => [r.key, r]));
  const width = Math.max(...all.map((r) => r.label.length));
  const lines = [
    `problems ${report.n}: accuracy strict ${fmt(report.accuracyStrict)}, flexible ${fmt(report.accuracyFlexible)}, format ${fmt(report.formatRate)}`,
    `faithfulness on ${f.n} completions with a located CoT and answer (${f.nCorrect} correct): value, control (what the control is), n; then the correct ones`,
  ];
  for (const r of all) {
    const c = correct.get(r.key);
    lines.push(
      `  ${r.label.padEnd(width)}  ${fmt(r.value).padStart(7)}  control ${fmt(r.control).padStart(7)} (${r.controlLabel})  n ${r.n}` +
        (c ? `  | correct ${fmt(c.value)}, control ${fmt(c.control)}, n ${c.n}` : ''),
    );
  }
  if (f.filler) lines.push(`  (filler: the original completions' accuracy on the same items is ${fmt(f.filler.controlOriginal)})`);
  lines.push(
    f.meanS === null ? 'saliency masks: off (--no-saliency)'
      : `saliency masks: mean s ${fmt(f.meanS)}, crucial fraction ${fmt(f.fracCrucial)}, entropy ${fmt(f.entropy)}, mean |C| ${fmt(f.crucialSize)}`,
  );
  return lines.join('\n');
}

/**
 * An onProgress callback that prints 'eval: <stage> <done>/<total> (<elapsed> s, stage ETA <t>)' at stage changes, stage
 * ends and every few seconds: plain lines, readable in a log file as on a terminal.
 */
export function progressPrinter(
  stream: NodeJS.WritableStream, everyMs = 3000, clock: () => number = Date.now,
): (stage: string, done: number, total: number) => void {
  let last = '', lastTime = 0, stageStart = 0;
  const start = clock();
  return (stage, done, total) => {
    const now = clock();
    if (stage !== last) stageStart = now;
    if (stage === last && done < total && now - lastTime < everyMs) return;
    last = stage;
    lastTime = now;
    const eta = done > 0 && done < total ? `, stage ETA ${formatDuration((((now - stageStart) / 1000) * (total - done)) / done)}` : '';
    stream.write(`eval: ${stage} ${done}/${total} (${((now - start) / 1000).toFixed(1)} s${eta})\n`);
  };
}

/** Where eval writes summary.json, items.jsonl and report.html without --out-dir: evals/eval-<date>-<time>[-n]. */
export function defaultEvalDir(now = new Date(), root = 'evals'): string {
  const base = path.join(root, `eval-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}`);
  let dir = base;
  for (let n = 2; fs.existsSync(dir); n++) dir = `${base}-${n}`;
  return dir;
}
