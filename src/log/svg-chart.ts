// Inline SVG line charts (no library, no network) for the training report: axis titles, and each series drawn twice,
// faint as logged and on top smoothed by TensorBoard's debiased EMA (the page's slider re-smooths it: SMOOTHING_SCRIPT).
import { escapeHtml, formatNumber } from './escape';

export interface Series {
  label: string;
  /** [x, y] pairs; non-finite ones are skipped. */
  points: [number, number][];
}

const COLOURS = ['#1f6fd1', '#e34a33', '#2a9d3c', '#8e44ad', '#d48a00', '#555555'];

export interface ChartOptions {
  /** Axis titles (default x 'step', y none). */
  xLabel?: string;
  yLabel?: string;
  /** EMA weight in [0, 1) of the smoothed line (default 0: as logged). */
  smoothing?: number;
  width?: number;
  height?: number;
}

/** TensorBoard's smoothing: an EMA debiased for its start, s_i = ema_i / (1 − w^(i+1)); w = 0 returns ys. */
export function smoothEma(ys: number[], w: number): number[] {
  let ema = 0;
  return ys.map((y, i) => {
    ema = ema * w + (1 - w) * y;
    return w === 0 ? y : ema / (1 - w ** (i + 1));
  });
}

/**
 * The page script behind the smoothing slider (input.smooth-w): re-smooths each polyline.sm from the points of the
 * raw polyline before it (the EMA of screen y equals the screen y of the EMA: the axis map is affine).
 */
export const SMOOTHING_SCRIPT = `
(function(){
  var input = document.querySelector('input.smooth-w');
  if (!input) return;
  var out = document.querySelector('.smooth-v');
  function apply(){
    var w = Math.min(0.999, Math.max(0, +input.value));
    if (out) out.textContent = w.toFixed(2);
    document.querySelectorAll('polyline.sm').forEach(function(sm){
      var raw = sm.previousElementSibling;
      var pts = raw.getAttribute('points').trim().split(/\\s+/).map(function(p){ return p.split(',').map(Number); });
      var ema = 0;
      sm.setAttribute('points', pts.map(function(p, i){
        ema = ema * w + (1 - w) * p[1];
        var y = w === 0 ? p[1] : ema / (1 - Math.pow(w, i + 1));
        return p[0] + ',' + y.toFixed(1);
      }).join(' '));
      raw.setAttribute('stroke-opacity', w > 0 ? '0.25' : '0');
    });
  }
  input.addEventListener('input', apply);
  apply();
})();
`;

/** About `count` round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  const span = hi - lo;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** An SVG line chart of one or more series over a shared x axis; "no data" when every series is empty. */
export function lineChart(title: string, series: Series[], o: ChartOptions = {}): string {
  const { width = 560, height = 260, xLabel = 'step', yLabel, smoothing = 0 } = o;
  const clean = series.map((s) => ({
    label: s.label,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).sort((a, b) => a[0] - b[0]),
  }));
  const all = clean.flatMap((s) => s.points);
  const head = `<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<rect width="100%" height="100%" fill="#fff" stroke="#ddd"/>` +
    `<text x="10" y="16" font-size="13" font-weight="600">${escapeHtml(title)}</text>`;
  if (all.length === 0) {
    return `${head}<text x="${width / 2}" y="${height / 2}" text-anchor="middle" fill="#999" font-size="13">no data</text></svg>`;
  }
  const m = { left: yLabel ? 72 : 58, right: 14, top: 30, bottom: 40 };
  let [x0, x1] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  let [y0, y1] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) {
    const pad = Math.abs(y0) > 0 ? Math.abs(y0) * 0.1 : 1;
    [y0, y1] = [y0 - pad, y1 + pad];
  }
  // widen the y range to the round ticks just outside the data, so both ends are labelled
  const yt = niceTicks(y0, y1);
  const step = yt.length > 1 ? yt[1] - yt[0] : (y1 - y0) / 2;
  if (yt.length === 0 || yt[0] > y0 + step * 1e-9) yt.unshift(Number(((yt[0] ?? y1) - step).toPrecision(12)));
  if (yt[yt.length - 1] < y1 - step * 1e-9) yt.push(Number((yt[yt.length - 1] + step).toPrecision(12)));
  [y0, y1] = [yt[0], yt[yt.length - 1]];
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const sx = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number): number => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const f = (v: number): string => v.toFixed(1);

  const parts: string[] = [head];
  for (const t of yt) {
    parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${f(sy(t))}" y2="${f(sy(t))}" stroke="#eee"/>`);
    parts.push(`<text x="${m.left - 6}" y="${f(sy(t) + 4)}" text-anchor="end" font-size="11" fill="#555">${escapeHtml(formatNumber(t))}</text>`);
  }
  for (const t of niceTicks(x0, x1, 6)) {
    parts.push(`<text x="${f(sx(t))}" y="${m.top + ph + 16}" text-anchor="middle" font-size="11" fill="#555">${escapeHtml(formatNumber(t))}</text>`);
  }
  parts.push(`<text class="axis-title" x="${f(m.left + pw / 2)}" y="${height - 6}" text-anchor="middle" font-size="12" fill="#333">${escapeHtml(xLabel)}</text>`);
  if (yLabel)
    parts.push(`<text class="axis-title" transform="translate(16 ${f(m.top + ph / 2)}) rotate(-90)" text-anchor="middle" font-size="12" fill="#333">${escapeHtml(yLabel)}</text>`);
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${m.top + ph}" stroke="#999"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left + pw}" y1="${m.top + ph}" y2="${m.top + ph}" stroke="#999"/>`);
  let legendX = width - m.right;
  clean.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length];
    if (s.points.length > 1) {
      const xs = s.points.map(([x]) => f(sx(x)));
      const raw = s.points.map(([, y]) => sy(y));
      const sm = smoothEma(raw, smoothing);
      parts.push(`<polyline class="raw" fill="none" stroke="${colour}" stroke-opacity="${smoothing > 0 ? 0.25 : 0}" stroke-width="1.2" points="${xs.map((x, k) => `${x},${f(raw[k])}`).join(' ')}"/>`);
      parts.push(`<polyline class="sm" fill="none" stroke="${colour}" stroke-width="1.8" points="${xs.map((x, k) => `${x},${f(sm[k])}`).join(' ')}"/>`);
    }
    if (s.points.length <= 60) {
      for (const [x, y] of s.points) {
        parts.push(`<circle cx="${f(sx(x))}" cy="${f(sy(y))}" r="2.5" fill="${colour}"><title>${escapeHtml(`${s.label} @ ${formatNumber(x)}: ${formatNumber(y)}`)}</title></circle>`);
      }
    }
  });
  // legend, right-aligned on the title line
  for (let i = clean.length - 1; i >= 0; i--) {
    if (clean[i].points.length === 0) continue;
    const label = escapeHtml(clean[i].label);
    const w = clean[i].label.length * 6.5 + 18;
    legendX -= w;
    parts.push(`<rect x="${f(legendX)}" y="8" width="10" height="10" fill="${COLOURS[i % COLOURS.length]}"/>`);
    parts.push(`<text x="${f(legendX + 14)}" y="17" font-size="11" fill="#333">${label}</text>`);
  }
  parts.push('</svg>');
  return parts.join('');
}
