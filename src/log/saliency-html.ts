// The saliency view: each completion's chain-of-thought tokens coloured by their mask value s (white → red), the
// answer tokens outlined in blue, the numbers beside it, the list sortable and filterable by a small inline script.
// Self-contained: no network, every piece of text HTML-escaped.
import { escapeHtml, formatNumber, scriptJson } from './escape';

export interface SaliencyItem {
  id: string;
  /** Prompt text (shown collapsed and dim). */
  prompt: string;
  /** Decoded text of each completion token (may contain spaces and newlines). */
  tokens: string[];
  /** Token index spans [start, end) of the chain of thought and of the answer. */
  cotStart: number;
  cotEnd: number;
  answerStart: number;
  answerEnd: number;
  /** Saliency in [0, 1] per CoT token (length cotEnd - cotStart). */
  s: number[];
  reward: number;
  correct: boolean;
  /** E.g. logpFull, logpSuppressCrucial, logpSuppressAll, dependence, meanS, fracCrucial, entropy. */
  numbers: Record<string, number>;
  /** How many identical samples this card stands for (same prompt and tokens; default 1). */
  count?: number;
}

/** What each number of a card means (shown in the page's explanation and as hover text). */
export const NUMBER_MEANINGS: Record<string, string> = {
  logpFull: 'log p(answer) with the whole chain of thought: the sum of the answer tokens\' log-probabilities, in nats (0 = certain)',
  logpSuppressCrucial: 'log p(answer) with the crucial set C suppressed (the model cannot attend to those tokens)',
  logpSuppressAll: 'log p(answer) with every chain-of-thought token suppressed',
  dependence: 'logpFull − logpSuppressAll: how much the answer needs the chain of thought at all (nats; 0 = not at all)',
  meanS: 'the mean of s over the chain of thought: how much of it the mask keeps',
  fracCrucial: 'the share of chain-of-thought tokens in C',
  entropy: 'how evenly s is spread over the chain of thought: 1 = evenly, near 0 = on one token',
};

/** What `reward` means on the standalone saliency page (the saliency command's reward). */
export const SALIENCY_REWARD_MEANING =
  'the saliency reward in [0, 1] (0 for a wrong answer or an empty C): how much more log p(answer) drops when C is ' +
  'suppressed than when as many random chain-of-thought tokens are, divided by τ and clipped';

/** Colour stops of the heat map (s = 0, 0.5, 1); the legend uses the same. */
const STOPS: [number, number, number][] = [
  [255, 255, 255],
  [253, 187, 132],
  [227, 74, 51],
];

/** Background colour for a saliency value (clamped to [0, 1]). */
export function heatColour(s: number): string {
  const x = Math.min(1, Math.max(0, s)) * (STOPS.length - 1);
  const i = Math.min(STOPS.length - 2, Math.floor(x));
  const f = x - i;
  const c = STOPS[i].map((v, k) => Math.round(v + (STOPS[i + 1][k] - v) * f));
  return `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
}

const hex = (c: [number, number, number]): string => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;

export const SALIENCY_CSS = `
.sal-controls{display:flex;gap:12px;align-items:center;flex-wrap:wrap;margin:8px 0 12px;font-size:14px}
.sal-legend{display:inline-flex;align-items:center;gap:6px}
.sal-ramp{display:inline-block;width:160px;height:12px;border:1px solid #999;
  background:linear-gradient(to right,${STOPS.map(hex).join(',')})}
.sal-item{border:1px solid #ddd;border-radius:6px;padding:8px 10px;margin:0 0 10px;background:#fff;
  display:grid;grid-template-columns:minmax(0,1fr) 260px;gap:12px}
.sal-head{grid-column:1/3;display:flex;gap:10px;align-items:baseline;font-size:13px}
.sal-id{font-weight:600}
.ok{color:#177a2c;font-weight:600}.bad{color:#b3261e;font-weight:600}
.sal-prompt summary{cursor:pointer;color:#888;font-size:12px}
.sal-prompt pre{color:#777;white-space:pre-wrap;margin:4px 0;font-size:12px}
.sal-text{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:13px;line-height:1.6;white-space:pre-wrap;
  word-break:break-word}
.tk{border-radius:2px}
.tk.c:hover,.tk.a:hover{outline:1px solid #333}
.tk.o{color:#777}
.tk.a{background:#d6e9ff;box-shadow:inset 0 -2px 0 #1f6fd1}
.sal-nums{font-size:12px;border-collapse:collapse;align-self:start}
.sal-nums td{padding:1px 6px;border-bottom:1px solid #eee}
.sal-nums td:last-child{text-align:right;font-variant-numeric:tabular-nums}
.sal-dup{color:#8a5a00}
.sal-help{font-size:13px;color:#333;max-width:980px;margin:0 0 12px}
.sal-help summary{cursor:pointer;color:#555}
.sal-help p{margin:4px 0}.sal-help ul{margin:4px 0;padding-left:20px}
`;

/** Sorting and filtering of every .sal block on the page; values per item are in data-v (JSON, null = missing). */
export const SALIENCY_SCRIPT = `
(function(){
  document.querySelectorAll('.sal').forEach(function(root){
    var list = root.querySelector('.sal-items');
    var sortSel = root.querySelector('.sal-sort');
    var dirSel = root.querySelector('.sal-dir');
    var filterSel = root.querySelector('.sal-filter');
    var items = Array.prototype.slice.call(list.children).map(function(el, i){
      return { el: el, i: i, v: JSON.parse(el.getAttribute('data-v')), ok: el.getAttribute('data-ok') === '1' };
    });
    function apply(){
      var k = sortSel.value, desc = dirSel.value === 'desc', f = filterSel.value;
      var sorted = items.slice();
      if (k !== '') {
        var j = +k;
        sorted.sort(function(a, b){
          var x = a.v[j], y = b.v[j];
          if (x === null && y === null) return a.i - b.i;
          if (x === null) return 1;
          if (y === null) return -1;
          return (desc ? y - x : x - y) || a.i - b.i;
        });
      }
      var frag = document.createDocumentFragment();
      sorted.forEach(function(it){
        it.el.style.display = (f === 'all' || (f === 'ok') === it.ok) ? '' : 'none';
        frag.appendChild(it.el);
      });
      list.appendChild(frag);
    }
    sortSel.addEventListener('change', apply);
    dirSel.addEventListener('change', apply);
    filterSel.addEventListener('change', apply);
  });
})();
`;

const finite = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

function clampSpan(start: unknown, end: unknown, n: number): [number, number] {
  const a = Math.max(0, Math.min(n, Math.floor(finite(start) ?? 0)));
  const b = Math.max(a, Math.min(n, Math.floor(finite(end) ?? 0)));
  return [a, b];
}

function renderTokens(item: SaliencyItem): string {
  const tokens = Array.isArray(item.tokens) ? item.tokens : [];
  const s = Array.isArray(item.s) ? item.s : [];
  const [cot0, cot1] = clampSpan(item.cotStart, item.cotEnd, tokens.length);
  const [ans0, ans1] = clampSpan(item.answerStart, item.answerEnd, tokens.length);
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const text = escapeHtml(String(tokens[i]));
    if (i >= ans0 && i < ans1) {
      out.push(`<span class="tk a" title="answer token ${i}">${text}</span>`);
    } else if (i >= cot0 && i < cot1) {
      const v = finite(s[i - cot0]);
      const style = v === null ? '' : ` style="background:${heatColour(v)}"`;
      out.push(`<span class="tk c"${style} title="s = ${v === null ? '?' : v.toFixed(3)}">${text}</span>`);
    } else {
      out.push(`<span class="tk o">${text}</span>`);
    }
  }
  return out.join('');
}

/** The number keys shown and sortable: union over items, in order of first appearance. */
function numberKeys(items: SaliencyItem[]): string[] {
  const keys = new Set<string>();
  for (const it of items) for (const k of Object.keys(it.numbers ?? {})) keys.add(k);
  return [...keys];
}

function renderItem(item: SaliencyItem, keys: string[]): string {
  const numbers = item.numbers ?? {};
  const values = [finite(item.reward), ...keys.map((k) => finite(numbers[k]))];
  const hover = (k: string) => (NUMBER_MEANINGS[k] ? ` title="${escapeHtml(NUMBER_MEANINGS[k])}"` : '');
  const rows = [
    `<tr><td>reward</td><td>${formatNumber(item.reward)}</td></tr>`,
    ...keys.filter((k) => k in numbers).map((k) => `<tr${hover(k)}><td>${escapeHtml(k)}</td><td>${formatNumber(numbers[k])}</td></tr>`),
  ];
  const ok = item.correct === true;
  const count = typeof item.count === 'number' && item.count > 1 ? item.count : 1;
  return (
    `<div class="sal-item" data-ok="${ok ? 1 : 0}" data-v="${escapeHtml(scriptJson(values))}">` +
    `<div class="sal-head"><span class="sal-id">${escapeHtml(String(item.id))}</span>` +
    `<span class="${ok ? 'ok' : 'bad'}">${ok ? '✓ correct' : '✗ wrong'}</span>` +
    `<span>reward ${formatNumber(item.reward)}</span>` +
    (count > 1 ? `<span class="sal-dup" title="identical samples (same prompt and tokens) shown once">×${count} identical samples</span>` : '') +
    `</div>` +
    `<div><details class="sal-prompt"><summary>prompt</summary><pre>${escapeHtml(String(item.prompt ?? ''))}</pre></details>` +
    `<div class="sal-text">${renderTokens(item)}</div></div>` +
    `<table class="sal-nums">${rows.join('')}</table></div>`
  );
}

/** The words under the controls: what the colours, s, the crucial set, the reward and each number mean. */
function explanation(keys: string[], n: number, rewardMeaning: string): string {
  const numbers = keys.filter((k) => NUMBER_MEANINGS[k]).map((k) => `<li><b>${escapeHtml(k)}</b>: ${escapeHtml(NUMBER_MEANINGS[k])}</li>`);
  return (
    `<details class="sal-help" open><summary>how to read this</summary>` +
    `<p>Each card is one completion: its prompt (folded), then its text. The chain-of-thought tokens are coloured by ` +
    `their saliency <b>s</b> ∈ [0, 1], a mask learned through the frozen model that keeps the answer likely while ` +
    `switching off as much of the chain of thought as it can (loss −log p(answer) + λ·mean(s)): s near 1 (red) means ` +
    `the answer needs that token; near 0 (white), the answer stays as likely without it. Hover a token for its s. ` +
    `The answer tokens are outlined in blue; grey text is neither.</p>` +
    `<p>The <b>crucial set C</b> is the tokens whose s clears the threshold (by default on the mask's own scale: ` +
    `s ≥ min(s) + ½·(max(s) − min(s))): the few tokens the answer depends on. <b>reward</b>: ${escapeHtml(rewardMeaning)}; ` +
    `<b>mean reward</b> above is its mean over the ${n} completions shown. "original order" is the order of the input.</p>` +
    (numbers.length > 0 ? `<ul>${numbers.join('')}</ul>` : '') +
    `</details>`
  );
}

/** The saliency list with its legend and controls, for embedding in a page that includes SALIENCY_CSS/SCRIPT. */
export function renderSaliencyList(items: SaliencyItem[], o: { rewardMeaning?: string } = {}): string {
  const keys = numberKeys(items);
  const weight = (it: SaliencyItem) => (typeof it.count === 'number' && it.count > 1 ? it.count : 1);
  const total = items.reduce((a, it) => a + weight(it), 0);
  const nOk = items.reduce((a, it) => a + (it.correct === true ? weight(it) : 0), 0);
  let sum = 0, n = 0;
  for (const it of items) {
    const r = finite(it.reward);
    if (r !== null) [sum, n] = [sum + r * weight(it), n + weight(it)];
  }
  const mean = n > 0 ? sum / n : NaN;
  const options = [`<option value="">original order</option>`, `<option value="0">reward</option>`]
    .concat(keys.map((k, i) => `<option value="${i + 1}">${escapeHtml(k)}</option>`))
    .join('');
  return (
    `<div class="sal"><div class="sal-controls">` +
    `<span>${total} completions${total > items.length ? ` (${items.length} distinct)` : ''} · ${total > 0 ? Math.round((100 * nOk) / total) : 0}% correct · ` +
    `mean reward ${formatNumber(mean)}</span>` +
    `<label>sort by <select class="sal-sort">${options}</select></label>` +
    `<select class="sal-dir"><option value="desc">high → low</option><option value="asc">low → high</option></select>` +
    `<label>show <select class="sal-filter"><option value="all">all</option><option value="ok">correct</option>` +
    `<option value="bad">wrong</option></select></label>` +
    `<span class="sal-legend">s = 0 <span class="sal-ramp"></span> 1 (chain of thought)</span>` +
    `<span class="sal-legend"><span class="tk a">answer</span></span>` +
    `</div>${explanation(keys, total, o.rewardMeaning ?? SALIENCY_REWARD_MEANING)}` +
    `<div class="sal-items">${items.map((it) => renderItem(it, keys)).join('\n')}</div></div>`
  );
}

export const PAGE_CSS = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:16px 24px;color:#222;background:#fafafa}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:20px 0 8px}
`;

/** A whole page: title, styles (the shared ones plus extraCss), body and the scripts. */
export function page(title: string, body: string, extraCss = '', extraScript = ''): string {
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><style>${PAGE_CSS}${SALIENCY_CSS}${extraCss}</style></head>\n<body>\n` +
    `${body}\n<script>${SALIENCY_SCRIPT}${extraScript}</script>\n</body></html>\n`
  );
}

/** A self-contained HTML page showing the saliency of each completion. */
export function renderSaliencyHtml(items: SaliencyItem[], opts: { title?: string } = {}): string {
  const title = opts.title ?? 'AtMan saliency';
  return page(title, `<h1>${escapeHtml(title)}</h1>\n${renderSaliencyList(items)}`);
}
