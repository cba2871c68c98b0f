// The training report: curves of the main metrics over steps (with axis titles and a smoothing slider; a chart with
// no data, e.g. KL at β = 0, is left out), the latest value of every metric, sample completions with their saliency heat
// maps (identical samples shown once), and the config. One self-contained HTML page.
import { stringify } from 'yaml';
import { escapeHtml, formatNumber } from './escape';
import { page, renderSaliencyList, SaliencyItem } from './saliency-html';
import { lineChart, Series, SMOOTHING_SCRIPT } from './svg-chart';

export interface TrainReportInput {
  config: object;
  metrics: object[];
  samples: SaliencyItem[];
  /** Initial EMA weight of the curves' smoothing (default 0.6, TensorBoard's); the page has a slider. */
  smoothing?: number;
}

/** Charts and the metric keys each one plots (TRL GRPOTrainer's names where it has them). */
export const REPORT_CHARTS: { title: string; keys: string[]; yLabel: string }[] = [
  { title: 'reward', keys: ['reward', 'reward_std'], yLabel: 'reward (mean, std)' },
  { title: 'accuracy', keys: ['rewards/correct/mean'], yLabel: 'fraction correct' },
  { title: 'saliency', keys: ['saliency/mean_s', 'rewards/saliency/mean'], yLabel: 'mean s; saliency reward' },
  { title: 'loss', keys: ['loss'], yLabel: 'loss' },
  { title: 'KL to reference', keys: ['kl'], yLabel: 'KL (nats per token)' },
  { title: 'completion length', keys: ['completions/mean_length'], yLabel: 'tokens' },
  { title: 'learning rate', keys: ['learning_rate'], yLabel: 'learning rate' },
  { title: 'held-out eval (eval.every)', keys: ['eval/accuracy_strict', 'eval/accuracy_flexible', 'eval/format_rate'], yLabel: 'fraction' },
];

/** Identical samples (same prompt, tokens and grade) as one card that counts them, in first-seen order. */
export function distinctSamples(samples: SaliencyItem[]): SaliencyItem[] {
  const seen = new Map<string, SaliencyItem>();
  for (const it of samples) {
    const k = JSON.stringify([it.prompt, it.tokens, it.correct]);
    const first = seen.get(k);
    if (first) first.count = (first.count ?? 1) + (it.count ?? 1);
    else seen.set(k, { ...it, count: it.count ?? 1 });
  }
  return [...seen.values()];
}

type Row = Record<string, unknown>;

/** The x of a row: its `step` when it has one, else its position (1-based). */
const stepOf = (row: Row, i: number): number => (typeof row.step === 'number' ? row.step : i + 1);

function seriesOf(rows: Row[], key: string): Series {
  const points: [number, number][] = [];
  rows.forEach((row, i) => {
    const v = row[key];
    if (typeof v === 'number') points.push([stepOf(row, i), v]);
  });
  return { label: key, points };
}

/** The most recent value of every key (rows may miss keys), with the step it is from. */
function latest(rows: Row[]): [string, unknown, number][] {
  const out = new Map<string, [unknown, number]>();
  rows.forEach((row, i) => {
    for (const [k, v] of Object.entries(row)) if (k !== 'step' && v !== null && v !== undefined) out.set(k, [v, stepOf(row, i)]);
  });
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([k, [v, s]]) => [k, v, s]);
}

function valueText(v: unknown): string {
  if (typeof v === 'number') return formatNumber(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v) ?? String(v);
}

const TOTAL_REWARD_MEANING =
  "the completion's total reward in training: the weighted sum of the reward functions (correct, format, saliency, …; " +
  'rewards.* in the config below)';

const REPORT_CSS = `
.smooth{font-size:13px;color:#444}.smooth input{vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:12px}
.last{border-collapse:collapse;font-size:13px;background:#fff}
.last td,.last th{padding:2px 10px;border-bottom:1px solid #eee;text-align:left}
.last td:nth-child(2){text-align:right;font-variant-numeric:tabular-nums}
.cfg pre{background:#fff;border:1px solid #ddd;padding:8px;font-size:12px;overflow:auto}
`;

export function renderTrainReport(o: TrainReportInput): string {
  const rows = (Array.isArray(o.metrics) ? o.metrics : []).filter(
    (r): r is Row => r !== null && typeof r === 'object' && !Array.isArray(r),
  );
  const config = (o.config ?? {}) as Row;
  const name = typeof config.name === 'string' ? config.name : 'training run';
  const title = `AtManRL report: ${name}`;
  const lastStep = rows.length > 0 ? stepOf(rows[rows.length - 1], rows.length - 1) : undefined;

  const smoothing = o.smoothing ?? 0.6;
  const charts = REPORT_CHARTS.map((c) => ({ c, series: c.keys.map((k) => seriesOf(rows, k)) }))
    .filter(({ series }) => series.some((s) => s.points.some(([, y]) => Number.isFinite(y))))
    .map(({ c, series }) => lineChart(c.title, series, { yLabel: c.yLabel, smoothing }));
  const table = latest(rows)
    .map(([k, v, s]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(valueText(v))}</td><td>${s}</td></tr>`)
    .join('');
  const samples = distinctSamples(Array.isArray(o.samples) ? o.samples : []);
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p>${rows.length} metric rows${lastStep === undefined ? '' : `, last step ${escapeHtml(formatNumber(lastStep))}`} · written ${escapeHtml(new Date().toISOString())}</p>`,
    `<h2>Curves</h2>`,
    charts.length === 0 ? '<p>no curves yet</p>' :
      `<p class="smooth"><label>smoothing <input class="smooth-w" type="range" min="0" max="0.99" step="0.01" value="${smoothing}"> ` +
      `<span class="smooth-v">${smoothing.toFixed(2)}</span></label> (exponential moving average, as TensorBoard's; the faint line is as logged)</p>` +
      `<div class="charts">${charts.join('\n')}</div>`,
    `<h2>Latest metrics</h2>`,
    table === '' ? '<p>no metrics yet</p>' : `<table class="last"><tr><th>metric</th><th>value</th><th>step</th></tr>${table}</table>`,
    `<h2>Sample completions</h2>`,
    samples.length === 0 ? '<p>no samples yet</p>' : renderSaliencyList(samples, { rewardMeaning: TOTAL_REWARD_MEANING }),
    `<h2>Config</h2><details class="cfg"><summary>resolved config</summary><pre>${escapeHtml(stringify(config))}</pre></details>`,
  ];
  return page(title, body.join('\n'), REPORT_CSS, SMOOTHING_SCRIPT);
}
