// Headless Chromium for rendering checks: screenshot an HTML string, and decode the PNG it writes.
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inflateSync } from 'zlib';

/** The browser binary: $CHROMIUM or Debian's /usr/bin/chromium. */
const chromium = (): string => process.env.CHROMIUM ?? '/usr/bin/chromium';

function requireChromium(): string {
  const bin = chromium();
  if (!fs.existsSync(bin)) throw new Error(`chromium not found at ${bin}: apt-get install chromium (or set CHROMIUM to its path)`);
  return bin;
}
export const WIDTH = 1200;
export const HEIGHT = 1600;

/** Renders html in headless Chromium at 1200×1600 and writes a PNG screenshot to pngPath. */
export async function screenshot(html: string, pngPath: string): Promise<void> {
  const bin = requireChromium();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-shot-'));
  const htmlFile = path.join(work, 'page.html');
  fs.writeFileSync(htmlFile, html);
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--hide-scrollbars',
    '--no-first-run', '--no-default-browser-check', `--user-data-dir=${path.join(work, 'profile')}`,
    `--screenshot=${path.resolve(pngPath)}`, `--window-size=${WIDTH},${HEIGHT}`, `file://${htmlFile}`,
  ];
  try {
    await new Promise<void>((resolve, reject) => {
      execFile(bin, args, { timeout: 90_000 }, (err, _stdout, stderr) => {
        if (err) reject(new Error(`chromium failed (${err.message}):\n${stderr.slice(-2000)}`));
        else resolve();
      });
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  if (!fs.existsSync(pngPath)) throw new Error(`chromium wrote no screenshot to ${pngPath}`);
}

export interface Png {
  width: number;
  height: number;
  /** RGBA, row-major. */
  rgba: Buffer;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Decodes an 8-bit, non-interlaced RGB/RGBA/grey PNG (what Chromium writes); throws on anything else. */
export function readPng(file: string): Png {
  const buf = fs.readFileSync(file);
  const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  if (buf.length < 33 || !buf.subarray(0, 8).equals(SIGNATURE)) throw new Error(`${file} is not a PNG`);
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (pos + 8 <= buf.length) {
    const len = buf.readUInt32BE(pos);
    const type = buf.toString('ascii', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      channels = ({ 0: 1, 2: 3, 4: 2, 6: 4 } as Record<number, number>)[colour] ?? 0;
      if (depth !== 8 || channels === 0 || data[12] !== 0) throw new Error(`${file}: unsupported PNG format`);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const out = rows.subarray(y * stride, (y + 1) * stride);
    const up = y > 0 ? rows.subarray((y - 1) * stride, y * stride) : Buffer.alloc(stride);
    for (let x = 0; x < stride; x++) {
      const a = x >= channels ? out[x - channels] : 0;
      const b = up[x];
      const c = x >= channels ? up[x - channels] : 0;
      const pred = filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      out[x] = (src[x] + pred) & 0xff;
    }
  }
  const rgba = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const p = rows.subarray(i * channels, (i + 1) * channels);
    const [r, g, b, a] = channels >= 3 ? [p[0], p[1], p[2], channels === 4 ? p[3] : 255] : [p[0], p[0], p[0], channels === 2 ? p[1] : 255];
    rgba[i * 4] = r;
    rgba[i * 4 + 1] = g;
    rgba[i * 4 + 2] = b;
    rgba[i * 4 + 3] = a;
  }
  return { width, height, rgba };
}

/** Number of distinct colours and the fraction of pixels that are not the most common colour (the background). */
export function colourStats(png: Png): { distinct: number; nonBackground: number } {
  const counts = new Map<number, number>();
  for (let i = 0; i < png.width * png.height; i++) {
    const key = png.rgba.readUInt32BE(i * 4);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = Math.max(...counts.values());
  return { distinct: counts.size, nonBackground: 1 - top / (png.width * png.height) };
}

/** The DOM after the page's scripts ran (chromium --dump-dom), for checking what scripts did or did not do. */
export async function dumpDom(html: string): Promise<string> {
  const bin = requireChromium();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-dom-'));
  const htmlFile = path.join(work, 'page.html');
  fs.writeFileSync(htmlFile, html);
  const args = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
    `--user-data-dir=${path.join(work, 'profile')}`, '--dump-dom', `file://${htmlFile}`,
  ];
  try {
    return await new Promise<string>((resolve, reject) => {
      execFile(bin, args, { timeout: 90_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(new Error(`chromium failed (${err.message}):\n${stderr.slice(-2000)}`));
        else resolve(stdout);
      });
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
