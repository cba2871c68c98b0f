// The saliency page and the training report: escaping, structure, and rendering in headless Chromium.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { heatColour, renderSaliencyHtml, renderTrainReport, SaliencyItem } from '../src/log';
import { resolveConfig } from '../src/config';
import { lineChart, niceTicks, smoothEma } from '../src/log/svg-chart';
import { distinctSamples } from '../src/log/train-report';
import { colourStats, dumpDom, HEIGHT, readPng, screenshot, WIDTH } from './browser';

/** A deterministic completion: a CoT of words with saliency rising and falling, then an answer. */
function sample(i: number): SaliencyItem {
  const cot = ['Let', ' us', ' add', ' 3', ' and', ' 4', '.\n', 'That', ' gives', ' 7', '.', '\n'];
  const tokens = ['<think>', ...cot, '</think>', ' The answer is', ` ${7 + (i % 3)}`, '.'];
  const s = cot.map((_, j) => (Math.sin(j * 0.9 + i) + 1) / 2);
  return {
    id: `q${i}-g${i % 8}`,
    prompt: `What is 3 + 4? (#${i})`,
    tokens,
    cotStart: 1,
    cotEnd: 1 + cot.length,
    answerStart: cot.length + 3,
    answerEnd: cot.length + 5,
    s,
    reward: ((i * 37) % 100) / 50,
    correct: i % 3 === 0,
    numbers: { logpFull: -0.1 * (i % 7), dependence: (i % 5) * 0.4, meanS: s.reduce((a, b) => a + b, 0) / s.length },
  };
}

function metrics(n: number): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, k) => {
    const step = k + 1;
    const row: Record<string, unknown> = {
      step,
      reward: 0.3 + 0.5 * (1 - Math.exp(-step / 10)),
      'rewards/correct/mean': Math.min(1, step / 30),
      loss: 0.05 * Math.cos(step),
      'completions/mean_length': 40 + (step % 7),
    };
    if (step % 2 === 0) row['saliency/mean_s'] = 0.6 - step / 200; // missing in odd rows
    if (step > 5) row.kl = 0.001 * step;
    return row;
  });
}

const EVIL = '<script>document.body.setAttribute("data-pwned","1")</script>';
const EVIL_IMG = '<img src=x onerror="document.body.setAttribute(\'data-pwned\',\'2\')">';

describe('saliency page (as text)', () => {
  test('every token, prompt, id and number key is HTML-escaped', () => {
    const item = sample(0);
    item.tokens[3] = EVIL;
    item.prompt = `${EVIL_IMG} & "quotes"`;
    item.id = '<b>id</b>';
    item.numbers = { '<k>': 1 };
    const html = renderSaliencyHtml([item], { title: '</title><script>alert(1)</script>' });
    expect(html).not.toContain(EVIL);
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;document.body.setAttribute(&quot;data-pwned&quot;,&quot;1&quot;)&lt;/script&gt;');
    expect(html).toContain('&amp; &quot;quotes&quot;');
    expect(html).toContain('&lt;b&gt;id&lt;/b&gt;');
    expect(html).toContain('&lt;k&gt;');
    expect(html).toContain('<title>&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;</title>');
    expect(html.match(/<script>/g)).toHaveLength(1); // only the page's own sorting script
    expect(html.match(/<\/script>/g)).toHaveLength(1);
  });

  test('CoT tokens carry their s as colour and hover text, answer and other tokens are marked', () => {
    const item = sample(1);
    const html = renderSaliencyHtml([item]);
    const cot = [...html.matchAll(/<span class="tk c" style="background:(#[0-9a-f]{6})" title="s = ([0-9.]+)">/g)];
    expect(cot).toHaveLength(item.s.length);
    cot.forEach((m, j) => {
      expect(Number(m[2])).toBeCloseTo(item.s[j], 3);
      expect(m[1]).toBe(heatColour(item.s[j]));
    });
    expect(html.match(/class="tk a"[^>]*>/g)).toHaveLength(2 + 1); // 2 answer tokens + the legend swatch
    expect(html).toContain('<span class="tk o">&lt;think&gt;</span>');
    expect(html).toContain('.\n</span>'); // newlines are kept (white-space: pre-wrap)
    expect(heatColour(0)).toBe('#ffffff');
    expect(heatColour(1)).toBe('#e34a33');
    expect(heatColour(2)).toBe('#e34a33');
  });

  test('odd input does not throw: spans out of range, s too short or NaN, missing numbers', () => {
    const item = { ...sample(2), cotEnd: 99, answerStart: -5, answerEnd: 2, s: [NaN, 0.5] } as SaliencyItem;
    const broken = { ...sample(3), numbers: undefined, tokens: undefined } as unknown as SaliencyItem;
    const html = renderSaliencyHtml([item, broken]);
    expect(html).toContain('title="s = ?"');
    expect(html).toContain('title="s = 0.500"');
    expect(renderSaliencyHtml([])).toContain('0 completions');
  });

  test('500 items render into one page with sort keys for reward and every number', () => {
    const items = Array.from({ length: 500 }, (_, i) => sample(i));
    const html = renderSaliencyHtml(items);
    expect(html.match(/class="sal-item"/g)).toHaveLength(500);
    expect(html).toContain('<option value="0">reward</option>');
    expect(html).toContain('<option value="2">dependence</option>');
    expect(html).toContain('500 completions · 33% correct');
  });

  test('the stats are explained in words, and the cards keep the input order', () => {
    const items = [5, 1, 3].map((i) => sample(i));
    const html = renderSaliencyHtml(items);
    expect([...html.matchAll(/<span class="sal-id">([^<]*)</g)].map((m) => m[1])).toEqual(['q5-g5', 'q1-g1', 'q3-g3']);
    expect(html).toContain('<option value="">original order</option>');
    expect(html).toContain('"original order" is the order of the input');
    for (const words of ['saliency <b>s</b> ∈ [0, 1]', 'The <b>crucial set C</b>', '<b>mean reward</b> above is its mean over the 3 completions',
      'the saliency reward in [0, 1]', '<b>dependence</b>: logpFull − logpSuppressAll', '<b>logpFull</b>: log p(answer)'])
      expect(html).toContain(words);
    expect(html).toContain('<tr title="logpFull − logpSuppressAll'); // hover text on the card's number
  });
});

describe('training report (as text)', () => {
  test('charts for each metric group, latest values despite missing keys, samples and config', () => {
    const config = resolveConfig({ overrides: ['name=<run>'] });
    const html = renderTrainReport({ config, metrics: metrics(40), samples: [sample(0), sample(1)] });
    expect(html.match(/<svg class="chart"/g)).toHaveLength(6); // learning rate: no data, no chart
    expect(html.match(/<polyline class="sm"/g)?.length).toBeGreaterThanOrEqual(6);
    // axis titles: x 'step' and a y title on every chart
    expect(html.match(/<text class="axis-title"[^>]*>step<\/text>/g)).toHaveLength(6);
    for (const y of ['reward (mean, std)', 'fraction correct', 'KL (nats per token)', 'tokens'])
      expect(html).toMatch(new RegExp(`<text class="axis-title" transform="[^"]*rotate\\(-90\\)"[^>]*>${y.replace(/[()]/g, '\\$&')}</text>`));
    expect(html).toContain('<input class="smooth-w" type="range" min="0" max="0.99" step="0.01" value="0.6">');
    expect(html).toContain('AtManRL report: &lt;run&gt;');
    // saliency/mean_s is only in even rows: its latest value is from step 40; kl from step 40 too
    expect(html).toMatch(/<tr><td>saliency\/mean_s<\/td><td>0\.4<\/td><td>40<\/td><\/tr>/);
    expect(html).toMatch(/<tr><td>kl<\/td><td>0\.04<\/td><td>40<\/td><\/tr>/);
    expect(html.match(/class="sal-item"/g)).toHaveLength(2);
    expect(html).toContain('lossType: dapo');
  });

  test('the held-out eval chart (eval.every) appears only when the run evaluated', () => {
    const rows = metrics(4).map((r, i) => (i % 2 === 1 ? { ...r, 'eval/accuracy_strict': 0.25 * i, 'eval/format_rate': 0.9 } : r));
    const html = renderTrainReport({ config: {}, metrics: rows, samples: [] });
    // reward, accuracy, saliency, loss, length and eval: no KL before step 6, no learning_rate in these rows
    expect(html.match(/<svg class="chart"/g)).toHaveLength(6);
    expect(html).toContain('held-out eval (eval.every)');
    expect(html).toMatch(/<tr><td>eval\/accuracy_strict<\/td><td>0\.75<\/td><td>4<\/td><\/tr>/);
    expect(renderTrainReport({ config: {}, metrics: metrics(4), samples: [] })).not.toContain('held-out eval');
  });

  test('β = 0 (no kl in the metrics): no KL panel', () => {
    const rows = metrics(40).map(({ kl: _kl, ...r }) => r);
    const html = renderTrainReport({ config: {}, metrics: rows, samples: [] });
    expect(html.match(/<svg class="chart"/g)).toHaveLength(5);
    expect(html).not.toContain('KL to reference');
    expect(html).not.toContain('>no data<');
  });

  test('identical samples make one card that counts them; the header counts all', () => {
    const a = sample(0), b = sample(1);
    const copies = [a, { ...a, id: 'other id' }, b, { ...a }];
    expect(distinctSamples(copies).map((it) => [it.id, it.count])).toEqual([[a.id, 3], [b.id, 1]]);
    expect(copies.every((it) => it.count === undefined)).toBe(true); // the input is not changed
    const html = renderTrainReport({ config: {}, metrics: [], samples: copies });
    expect(html.match(/class="sal-item"/g)).toHaveLength(2);
    expect(html).toContain('×3 identical samples');
    expect(html).toContain('4 completions (2 distinct)');
    expect(html).toContain('total reward in training');
  });

  test('no metrics and no samples still make a page', () => {
    const html = renderTrainReport({ config: {}, metrics: [], samples: [] });
    expect(html).toContain('no curves yet');
    expect(html).toContain('no metrics yet');
    expect(html).toContain('no samples yet');
  });
});

describe('SVG charts', () => {
  test('round ticks, a single point, non-finite values and empty series', () => {
    expect(niceTicks(0.033, 1)).toEqual([0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(-0.048, 0.049)).toEqual([-0.04, -0.02, 0, 0.02, 0.04]);
    const one = lineChart('one', [{ label: 'a', points: [[3, 0.5], [4, NaN], [Infinity, 1]] }]);
    expect(one.match(/<circle /g)).toHaveLength(1);
    expect(one).not.toContain('<polyline');
    expect(one).not.toContain('NaN');
    const two = lineChart('<t>', [{ label: 'x', points: [[1, 1], [2, 3]] }, { label: 'empty', points: [] }]);
    expect(two).toContain('&lt;t&gt;');
    expect(two.match(/<polyline class="sm"/g)).toHaveLength(1);
    expect(two).not.toContain('>empty<'); // no legend entry for a series without data
  });

  test('smoothing: TensorBoard\'s debiased EMA; weight 0 leaves the series as logged', () => {
    expect(smoothEma([1, 2, 3], 0)).toEqual([1, 2, 3]);
    const s = smoothEma([1, 3], 0.5); // ema 0.5, then 0.5·0.5 + 0.5·3 = 1.75; debiased by 1 − 0.5 and 1 − 0.25
    expect(s[0]).toBeCloseTo(1, 12);
    expect(s[1]).toBeCloseTo(1.75 / 0.75, 12);
    expect(smoothEma([4, 4, 4], 0.9).every((v) => Math.abs(v - 4) < 1e-12)).toBe(true);
    const chart = lineChart('c', [{ label: 'a', points: [[1, 0], [2, 1], [3, 0], [4, 1]] }], { smoothing: 0.6, yLabel: 'y' });
    const [raw, sm] = ['raw', 'sm'].map((c) => chart.match(new RegExp(`<polyline class="${c}"[^>]*points="([^"]*)"`))![1]);
    expect(raw).not.toBe(sm);
    expect(raw.split(' ')[0]).toBe(sm.split(' ')[0]); // the first point is its own average
  });
});

describe('rendering in headless Chromium', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-render-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  async function shot(name: string, html: string): Promise<{ distinct: number; nonBackground: number }> {
    const file = path.join(dir, `${name}.png`);
    await screenshot(html, file);
    const png = readPng(file);
    expect([png.width, png.height]).toEqual([WIDTH, HEIGHT]);
    return colourStats(png);
  }

  test('the saliency page and the train report render as non-blank pages of the requested size', async () => {
    const blank = await shot('blank', '<!DOCTYPE html><html><body></body></html>');
    expect(blank.distinct).toBe(1); // the baseline: one flat colour
    const sal = await shot('saliency', renderSaliencyHtml(Array.from({ length: 30 }, (_, i) => sample(i))));
    const report = await shot(
      'report',
      renderTrainReport({ config: resolveConfig({}), metrics: metrics(40), samples: [sample(0), sample(1)] }),
    );
    for (const s of [sal, report]) {
      expect(s.distinct).toBeGreaterThan(50); // text, heat-map colours, chart lines
      expect(s.nonBackground).toBeGreaterThan(0.02);
    }
  });

  test('a missing chromium fails with how to install it', async () => {
    const saved = process.env.CHROMIUM;
    process.env.CHROMIUM = path.join(dir, 'no-such-chromium');
    try {
      await expect(screenshot('<p>x</p>', path.join(dir, 'x.png'))).rejects.toThrow('apt-get install chromium');
    } finally {
      if (saved === undefined) delete process.env.CHROMIUM;
      else process.env.CHROMIUM = saved;
    }
  });

  test('an escaped <script> token is shown, not run', async () => {
    const item = sample(0);
    item.tokens[3] = EVIL;
    item.prompt = EVIL_IMG;
    const dom = await dumpDom(renderSaliencyHtml([item]));
    expect(dom).not.toMatch(/<body[^>]*data-pwned/); // neither the script nor the onerror handler ran
    expect(dom).not.toContain('<img');
    expect(dom).toContain('&lt;script&gt;document.body.setAttribute("data-pwned","1")&lt;/script&gt;');
  });

  test('the smoothing slider re-smooths every curve as the server did; 0 shows the logged values', async () => {
    const html = renderTrainReport({ config: {}, metrics: metrics(40), samples: [] });
    const pointsOf = (page: string, cls: string) =>
      [...page.matchAll(new RegExp(`<polyline class="${cls}"[^>]*points="([^"]*)"`, 'g'))].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number)));
    const drive = (w: number) =>
      `<script>var i=document.querySelector('.smooth-w');i.value='${w}';i.dispatchEvent(new Event('input'));</script>`;
    const server = pointsOf(html, 'sm');
    const at06 = pointsOf(await dumpDom(html.replace('</body>', `${drive(0.6)}</body>`)), 'sm');
    expect(at06.length).toBe(server.length);
    at06.forEach((line, k) => line.forEach(([x, y], j) => {
      expect(x).toBeCloseTo(server[k][j][0], 5);
      expect(Math.abs(y - server[k][j][1])).toBeLessThanOrEqual(0.11); // the page smooths the rounded raw points
    }));
    const dom0 = await dumpDom(html.replace('</body>', `${drive(0)}</body>`));
    expect(pointsOf(dom0, 'sm')).toEqual(pointsOf(dom0, 'raw'));
    expect(dom0).toContain('<span class="smooth-v">0.00</span>');
  });

  test('the inline script sorts the list by the chosen key', async () => {
    const items = [0, 1, 2, 3, 4].map((i) => ({ ...sample(i), id: `item${i}`, reward: [0.2, 0.9, 0.5, 0.1, 0.7][i] }));
    const drive =
      "<script>var s=document.querySelector('.sal-sort');s.value='0';s.dispatchEvent(new Event('change'));" +
      "document.body.setAttribute('data-order',Array.prototype.map.call(document.querySelectorAll('.sal-id'),function(e){return e.textContent}).join(','));</script>";
    const html = renderSaliencyHtml(items).replace('</body>', `${drive}</body>`);
    const dom = await dumpDom(html);
    expect(dom).toContain('data-order="item1,item4,item2,item0,item3"');
  });
});
