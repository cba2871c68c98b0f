// User reward functions: loading them from JS modules (CommonJS or ESM) and combining their scores as TRL's
// GRPOTrainer does (weighted nansum, per-function mean/std metrics).
import * as fs from 'fs';
import * as path from 'path';
import { pathToFileURL } from 'url';

export interface RewardContext {
  prompt: string;
  completion: string;
  gold: string;
  task: string;
  problemId: string;
}

/** A reward for one completion. NaN or null (TRL's None) means "not applicable" (it counts as 0 in the total, as TRL's
 * nansum; a completion no function scored gets advantage 0). */
export type RewardFn = (ctx: RewardContext) => number | null | Promise<number | null>;

/** A reward function's value as combineRewards() takes it: null (TRL's None: not applicable) becomes NaN. */
export function rewardValue(v: number | null): number {
  return v === null ? NaN : v;
}

// A real dynamic import(): TypeScript compiles `import()` to require() under CommonJS, which cannot load ESM.
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

function exportNames(mod: unknown): string {
  if ((typeof mod !== 'object' && typeof mod !== 'function') || mod === null) return `(the module's value is ${typeof mod})`;
  const names = Object.keys(mod).map((k) => `${k} (${typeof (mod as Record<string, unknown>)[k]})`);
  return names.length > 0 ? names.join(', ') : '(none)';
}

async function loadModule(file: string, given: string, what: string): Promise<unknown> {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require(file) as unknown;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code !== 'ERR_REQUIRE_ESM') throw new Error(`${what} module ${given} failed to load: ${(e as Error).message}`);
  }
  try {
    return await importEsm(pathToFileURL(file).href);
  } catch (e) {
    throw new Error(`${what} module ${given} (an ES module) failed to load: ${(e as Error).message}`);
  }
}

/**
 * Loads a reward function from a JS module (path relative to the current directory, or absolute). Without `name` it
 * takes the default export or `module.exports = fn`; with `name`, the export of that name. The returned name (used in
 * metrics as rewards/<name>/...) is `name`, else the file's basename without extension. `what` names the function in
 * errors (other plug-ins, such as data.answerExtractor, load the same way).
 */
export async function loadRewardFunction(modulePath: string, name?: string, what = 'reward'): Promise<{ name: string; fn: RewardFn }> {
  if (typeof modulePath !== 'string' || modulePath.length === 0)
    throw new TypeError('loadRewardFunction: modulePath must be a non-empty path to a .js/.cjs/.mjs file');
  const file = path.resolve(process.cwd(), modulePath);
  if (!fs.existsSync(file) || !fs.statSync(file).isFile())
    throw new Error(`${what} module not found: ${modulePath} (looked for ${file}; paths are relative to ${process.cwd()})`);
  const mod = await loadModule(file, modulePath, what);
  const record = (typeof mod === 'object' || typeof mod === 'function') && mod !== null ? (mod as Record<string, unknown>) : {};

  let fn: unknown;
  if (name !== undefined) {
    fn = record[name];
    if (typeof fn !== 'function')
      throw new Error(`${what} module ${modulePath} has no function export named "${name}"; its exports: ${exportNames(mod)}`);
  } else {
    fn = typeof mod === 'function' ? mod : record.default;
    // import() of a CommonJS module gives { default: module.exports }: one more level when that is { default: fn }.
    if (typeof fn !== 'function' && typeof fn === 'object' && fn !== null) fn = (fn as Record<string, unknown>).default;
    if (typeof fn !== 'function')
      throw new Error(
        `${what} module ${modulePath} exports no default function; its exports: ${exportNames(mod)}. ` +
          'Export one as default (module.exports = fn, or export default fn), or name the export to use',
      );
  }
  const label = name ?? path.basename(file, path.extname(file));
  return { name: label, fn: fn as RewardFn };
}

// Local copies of advantages.ts' nanMean/nanStd: this file imports only node builtins (a test compiles it alone).
const nanMean = (xs: number[]): number => {
  const v = xs.filter((x) => !Number.isNaN(x));
  return v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length;
};

/** TRL's nanstd: unbiased std over the non-NaN values (NaN with fewer than two). */
const nanStd = (xs: number[]): number => {
  const v = xs.filter((x) => !Number.isNaN(x));
  if (v.length < 2) return NaN;
  const m = nanMean(v);
  return Math.sqrt(v.reduce((a, x) => a + (x - m) * (x - m), 0) / (v.length - 1));
};

/**
 * total[k] = Σ_f weight[f] · reward_f[k], where a NaN reward counts as 0 (TRL's nansum). A completion that every
 * function with a nonzero weight skipped (NaN) is unscorable: its total is NaN, which computeAdvantages leaves out of
 * its group's statistics and gives advantage 0 (TRL >= 1.6; a weight of 0 switches a function off, so it does not
 * make a completion scorable). A function without a weight gets 1 (TRL's default). Metrics: rewards/<name>/mean and
 * rewards/<name>/std over the non-NaN values (unweighted, as TRL logs them).
 */
export function combineRewards(
  perFunction: Record<string, number[]>,
  weights: Record<string, number>,
): { total: number[]; metrics: Record<string, number> } {
  const names = Object.keys(perFunction);
  if (names.length === 0) throw new RangeError('combineRewards: no reward functions given');
  const unknown = Object.keys(weights).filter((w) => !(w in perFunction));
  if (unknown.length > 0)
    throw new RangeError(
      `combineRewards: weights name unknown reward functions: ${unknown.join(', ')} (the functions are: ${names.join(', ')})`,
    );
  for (const [w, v] of Object.entries(weights))
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`combineRewards: weight of ${w} must be a finite number, got ${String(v)}`);
  const n = perFunction[names[0]].length;
  for (const f of names) {
    const rs = perFunction[f];
    if (!Array.isArray(rs) || rs.length !== n)
      throw new RangeError(`combineRewards: reward function ${f} gave ${Array.isArray(rs) ? rs.length : 'no'} rewards, ${names[0]} gave ${n}`);
    const bad = rs.findIndex((r) => typeof r !== 'number' || r === Infinity || r === -Infinity);
    if (bad >= 0) throw new RangeError(`combineRewards: reward function ${f} gave ${String(rs[bad])} for completion ${bad}; rewards must be numbers (NaN = not applicable)`);
  }

  const total = new Array<number>(n).fill(0);
  const metrics: Record<string, number> = {};
  const scored = new Array<boolean>(n).fill(false);
  for (const f of names) {
    const w = weights[f] ?? 1;
    const rs = perFunction[f];
    for (let k = 0; k < n; k++) {
      if (Number.isNaN(rs[k])) continue;
      total[k] += w * rs[k];
      if (w !== 0) scored[k] = true;
    }
    metrics[`rewards/${f}/mean`] = nanMean(rs);
    metrics[`rewards/${f}/std`] = nanStd(rs);
  }
  return { total: total.map((t, k) => (scored[k] ? t : NaN)), metrics };
}
