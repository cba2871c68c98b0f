// The evaluation report: accuracy, the faithfulness table (each metric beside its control, over all measured
// completions and over the correct ones, with what it measures and which direction is more faithful), the wrong-hint
// test, and the per-problem values. One self-contained HTML page; every piece of text is escaped.
import { FaithfulnessRow, faithfulnessRows } from '../atman/faithfulness-summary';
import type { EvalItem, EvalReport } from '../train/evaluate';
import { escapeHtml, formatNumber } from './escape';
import { page } from './saliency-html';

export interface EvalReportInput {
  report: EvalReport;
  items: EvalItem[];
  /** The model directory (shown in the title). */
  model?: string;
  /** Most per-problem rows shown (default 500). */
  maxItems?: number;
}

const CSS = `
.fm{border-collapse:collapse;font-size:13px;background:#fff;margin:4px 0 12px}
.fm td,.fm th{padding:3px 8px;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
.fm td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.fm td.ctl{color:#555}
.fm td.what{color:#444;max-width:520px}
.fm th.grp{text-align:center;border-bottom:1px solid #ccc}
.items td pre{margin:0;white-space:pre-wrap;font-size:12px;max-width:520px}
.ok{color:#177a2c;font-weight:600}.bad{color:#b3261e;font-weight:600}
`;

const num = (v: number | null | undefined) => escapeHtml(formatNumber(v ?? undefined));
const yesNo = (v: boolean | null | undefined) => (v === true ? 'yes' : v === false ? 'no' : '—');

function faithfulnessTable(all: FaithfulnessRow[], correct: FaithfulnessRow[]): string {
  const byKey = new Map(correct.map((r) => [r.key, r]));
  const head =
    '<tr><th rowspan="2">metric</th><th colspan="3" class="grp">all measured completions</th><th colspan="3" class="grp">correct ones</th>' +
    '<th rowspan="2">control</th><th rowspan="2">what it measures; which way is more faithful</th></tr>' +
    '<tr><th>value</th><th>control</th><th>n</th><th>value</th><th>control</th><th>n</th></tr>';
  const body = all.map((r) => {
    const c = byKey.get(r.key);
    return (
      `<tr><td>${escapeHtml(r.label)}</td><td class="num">${num(r.value)}</td><td class="num ctl">${num(r.control)}</td><td class="num">${r.n}</td>` +
      `<td class="num">${num(c?.value)}</td><td class="num ctl">${num(c?.control)}</td><td class="num">${c ? c.n : '—'}</td>` +
      `<td class="ctl">${escapeHtml(r.controlLabel)}</td><td class="what">${escapeHtml(r.description)}</td></tr>`
    );
  });
  return `<table class="fm">${head}${body.join('')}</table>`;
}

function itemsTable(items: EvalItem[], max: number): string {
  const shown = items.slice(0, max);
  const head =
    '<tr><th>problem</th><th>grade</th><th>answer / gold</th><th>dependence (control)</th><th>survives CoT suppr.</th>' +
    '<th>early answering agrees at 0, ¼, ½, ¾, 1</th><th>mistake: changed (control)</th><th>filler: answer</th>' +
    '<th>CoT edit: follows (control)</th><th>|C| / CoT tokens</th><th>wrong hint: answer / CoT / hint</th><th>completion</th></tr>';
  const rows = shown.map((it) => {
    const lp = it.logprob, iv = it.interventions, e = iv?.earlyAnswering, m = iv?.addingMistake, f = iv?.filler, ce = iv?.cotEdit, h = it.wrongHint;
    const early = e ? (['f0', 'f25', 'f50', 'f75', 'f100'] as const).map((k) => (e.agree[k] ? '✓' : '✗')).join(' ') : '—';
    return (
      `<tr><td>${escapeHtml(it.id)}</td><td class="${it.correct ? 'ok' : 'bad'}">${it.correct ? '✓' : '✗'}${it.spansFound ? '' : ' (no spans)'}</td>` +
      `<td>${escapeHtml(String(it.answer ?? '—'))} / ${escapeHtml(it.gold)}</td>` +
      `<td class="num">${lp ? `${num(lp.dependence)} (${num(lp.dependenceControl)})` : '—'}</td>` +
      `<td>${lp ? yesNo(lp.answerSurvivesCotSuppression) : '—'}</td><td>${early}</td>` +
      `<td>${m ? `${escapeHtml(m.original)}→${escapeHtml(m.replacement)}: ${yesNo(m.changed)} (${yesNo(m.controlChanged)})` : '—'}</td>` +
      `<td>${f ? escapeHtml(String(f.answer ?? '—')) : '—'}</td>` +
      `<td>${ce ? `${escapeHtml(ce.original)}→${escapeHtml(ce.edited)}: ${yesNo(ce.followsEdit)} (${yesNo(ce.controlFollows)})` : '—'}</td>` +
      `<td class="num">${it.saliency ? it.saliency.crucial.length : '—'} / ${it.cotTokens ?? '—'}</td>` +
      `<td>${h ? `${escapeHtml(String(h.answer ?? '—'))} / ${escapeHtml(String(h.cotResult ?? '—'))} / ${escapeHtml(h.hint)}` : '—'}</td>` +
      `<td><details><summary>text</summary><pre>${escapeHtml(it.completion)}</pre></details></td></tr>`
    );
  });
  const more = items.length > shown.length ? `<p>${items.length - shown.length} more in items.jsonl</p>` : '';
  return `<table class="fm items">${head}${rows.join('')}</table>${more}`;
}

export function renderEvalReport(o: EvalReportInput): string {
  const r = o.report, f = r.faithfulness;
  const title = `AtManRL evaluation${o.model ? `: ${o.model}` : ''}`;
  const sal = f.meanS === null ? 'saliency masks: off' :
    `saliency masks: mean s ${formatNumber(f.meanS)}, crucial fraction ${formatNumber(f.fracCrucial ?? undefined)}, entropy ${formatNumber(f.entropy ?? undefined)}, mean |C| ${formatNumber(f.crucialSize ?? undefined)}`;
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>${r.n} problems · accuracy strict ${num(r.accuracyStrict)}, flexible ${num(r.accuracyFlexible)} · format ${num(r.formatRate)} · ` +
      `written ${escapeHtml(new Date().toISOString())}</p>`,
    `<h2>Faithfulness</h2>`,
    `<p>Over the ${f.n} completions whose chain of thought and answer were located (correct or not: checkpoints evaluated ` +
      `on the same problems are compared on the same items), and over the ${f.nCorrect} correct ones. Log-prob metrics are in ` +
      `nats, summed over the answer tokens; the others are rates in [0, 1]. ${escapeHtml(sal)}.</p>`,
    faithfulnessTable(faithfulnessRows(f, f.hint), faithfulnessRows(f.correctOnly)),
    f.hint ? `<p>Wrong-hint test: ${f.hint.problems} problems, ${f.hint.n} with both an answer and a CoT result.</p>` : '',
    `<h2>Problems</h2>`,
    itemsTable(o.items, o.maxItems ?? 500),
  ];
  return page(title, body.join('\n'), CSS);
}
