// resolveConfig / resolveWith: schema defaults ← base config ← config file ← command-line overrides, validated in one
// pass that reports every problem at once with where it came from. One layer for every command's schema.
import { z } from 'zod';
import { coerceAndCheckKeys, isPlainObject, Raw } from './coerce';
import { ConfigSchema, FieldInfo, fieldMap } from './fields';
import { canonicalKeys } from './key-forms';
import { loadConfigFile, LoadedFile } from './load-file';
import { deepMerge, leafPaths, parseOverrides } from './overrides';
import { TrainConfig, trainConfigSchema } from './schema';
import { groupKeys, suggestKey } from './suggest';
import { taskWithoutInference } from './task';

/** A config that does not validate; message lists every problem, problems holds them one by one. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[], header = 'invalid config') {
    super(`${header}:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface ResolveOptions {
  /** Under the file: a config file (train's bundled default) or the values themselves (a partial config). */
  base?: string | Record<string, unknown>;
  /** A .yaml/.yml/.json config file. */
  file?: string;
  /** { grpo: { beta: 0.04 } } or ['grpo.beta=0.04']; string values are coerced to the field's type. */
  overrides?: Record<string, unknown> | string[];
}

export interface ResolveWithOptions<T> extends ResolveOptions {
  /**
   * Short names of the overrides: { task: 'data.task', count: 'data.{data.task}.count' } ({path}: that path's value in
   * the merged config). A short name that is also a group applies when its value is not an object
   * ({ saliency: 'saliency.enabled' } takes `--no-saliency`, `--saliency.steps 3` stays the group).
   */
  shortcuts?: Record<string, string>;
  /** Checks between fields (messages), after the schema passed. */
  crossChecks?: (config: T) => string[];
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
  if (typeof v === 'string') return `'${v}'`;
  try {
    const s = JSON.stringify(v);
    return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {
    return String(v);
  }
}

function valueAt(o: unknown, path: PropertyKey[]): unknown {
  let node = o;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key as string];
  }
  return node;
}

/** The schema field a zod issue path belongs to (array indices and keys inside rewards.custom map to the list). */
function fieldFor(path: PropertyKey[], fields: Map<string, FieldInfo>): FieldInfo | undefined {
  for (let n = path.length; n > 0; n--) {
    const f = fields.get(path.slice(0, n).join('.'));
    if (f !== undefined) return f;
  }
  return undefined;
}

function issueText(issue: z.core.$ZodIssue, merged: Raw, fields: Map<string, FieldInfo>): string {
  const dotted = issue.path.join('.');
  const field = fieldFor(issue.path, fields);
  const given = valueAt(merged, issue.path);
  const exact = field !== undefined && field.path === dotted;
  const wrongKind = issue.code === 'invalid_type' || issue.code === 'invalid_value' || issue.code === 'invalid_format';
  // for a wrong type or option the allowed type says it all; for a range violation zod's message says which bound
  if (exact && wrongKind) return `'${dotted}': got ${show(given)}; allowed: ${field.type}`;
  const allowed = exact ? `; allowed: ${field.type}` : '';
  return `'${dotted}': got ${show(given)} (${issue.message.replace(/^Invalid input: /, '')})${allowed}`;
}

/** lora.alpha and lora.dropout mean nothing without lora.r: a config that sets them alone most likely forgot r. */
export function loraChecks(l: TrainConfig['lora']): string[] {
  if (l.r > 0) return [];
  const set = [l.alpha !== null ? 'lora.alpha' : null, l.dropout !== 0 ? 'lora.dropout' : null].filter((x) => x !== null);
  return set.length === 0 ? [] : [`'${set.join("' and '")}' set while 'lora.r' is 0 (LoRA off): set lora.r to the adapter's rank, e.g. --lora.r 16`];
}

/** Checks between fields that the per-field schema cannot express. */
function crossChecks(c: TrainConfig): string[] {
  const out: string[] = [...loraChecks(c.lora)];
  const s = c.data.synthetic;
  if (s.minOps > s.maxOps) {
    out.push(`'data.synthetic.minOps' (${s.minOps}) is larger than 'data.synthetic.maxOps' (${s.maxOps})`);
  }
  if (c.grpo.epsilonHigh !== null && c.grpo.epsilonHigh < c.grpo.epsilon) {
    out.push(`'grpo.epsilonHigh' (${c.grpo.epsilonHigh}) is below 'grpo.epsilon' (${c.grpo.epsilon}); use null for symmetric clipping`);
  }
  if (c.eval.every > 0 && c.eval.path === null && (c.data.task === 'gsm8k' || c.data.task === 'mmlu')) {
    out.push(`'eval.every' (${c.eval.every}) with data.task '${c.data.task}' needs 'eval.path': a held-out file of that task (generated tasks make their own)`);
  }
  return out;
}

/**
 * The train config: defaults, then the base (if any), the file, the overrides. Throws ConfigError listing every unknown
 * key (with the nearest valid name), wrong type or value (with what is allowed), and ConfigFileError for unreadable
 * files.
 */
export function resolveConfig(o: ResolveOptions & { shortcuts?: Record<string, string> } = {}): TrainConfig {
  return resolveWith(trainConfigSchema, { ...o, crossChecks });
}

/** A copy of plain data (objects and arrays), so that coercion never edits the caller's object. */
function clonePlain<T>(v: T): T {
  if (Array.isArray(v)) return v.map(clonePlain) as T;
  if (isPlainObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, clonePlain(x)])) as T;
  return v;
}

function valueAtDotted(o: unknown, dotted: string): unknown {
  return valueAt(o, dotted.split('.'));
}

/** Moves short-named overrides to their paths; reports the ones whose {placeholder} names no field. */
function applyShortcuts(cli: Raw, shortcuts: Record<string, string>, fields: Map<string, FieldInfo>, under: Raw, problems: string[]): Raw {
  let out: Raw = {};
  const moved: [string, string, unknown][] = [];
  for (const [key, value] of Object.entries(cli)) {
    const target = shortcuts[key];
    const field = fields.get(key);
    if (target !== undefined && (field === undefined || (field.group && !isPlainObject(value)))) moved.push([key, target, value]);
    else out[key] = value;
  }
  // Plain short names first, so that a placeholder sees them (`--task hinted --count 5` sets data.hinted.count).
  moved.sort(([, a], [, b]) => Number(a.includes('{')) - Number(b.includes('{')));
  for (const [key, target, value] of moved) {
    const context = deepMerge(under, out);
    const current = (p: string): unknown => valueAtDotted(context, p) ?? fields.get(p)?.default;
    const resolved = (p: string): unknown => (p === 'data.task' ? taskWithoutInference(String(current(p)), current('data.path') as string | null) : current(p));
    const path = target.replace(/\{([^}]+)\}/g, (_m, p: string) => String(resolved(p)));
    if (!fields.has(path)) {
      const placeholder = /\{([^}]+)\}/.exec(target)?.[1] ?? '';
      problems.push(`'${key}' sets ${target}, which is no field when ${placeholder} is ${show(current(placeholder))} (override)`);
      continue;
    }
    out = deepMerge(out, parseOverrides({ [path]: value }, problems));
  }
  return out;
}

/**
 * A config of any command's schema: its defaults, then the base, the file, the overrides, validated by the schema in
 * one pass. Overrides may use dotted, kebab-case or camelCase keys and the command's short names.
 */
export function resolveWith<S extends ConfigSchema>(schema: S, o: ResolveWithOptions<z.output<S>> = {}): z.output<S> {
  const fields = fieldMap(schema);
  const problems: string[] = [];
  const baseFile = typeof o.base === 'string' ? loadConfigFile(o.base) : undefined;
  const fromBase: Raw = baseFile?.data ?? (isPlainObject(o.base) ? clonePlain(o.base) : {});
  let loaded: LoadedFile | undefined;
  if (o.file !== undefined) loaded = loadConfigFile(o.file);
  const fromFile: Raw = loaded?.data ?? {};
  let fromCli = o.overrides === undefined ? {} : parseOverrides(o.overrides, problems);
  fromCli = applyShortcuts(fromCli, o.shortcuts ?? {}, fields, deepMerge(fromBase, fromFile), problems);
  fromCli = canonicalKeys(fromCli, fields);
  const cliPaths = new Set(leafPaths(fromCli));

  // Says where a key came from: the override that set it, the file (with its line for YAML), or the base.
  const origin = (dotted: string): string => {
    for (const p of cliPaths) if (p === dotted || p.startsWith(`${dotted}.`) || dotted.startsWith(`${p}.`)) return 'override';
    if (loaded !== undefined && (valueAtDotted(fromFile, dotted) !== undefined || baseFile === undefined)) return loaded.where(dotted);
    return baseFile !== undefined ? baseFile.where(dotted) : 'config';
  };
  const at = (dotted: string, text: string): string => `${text} (${origin(dotted)})`;

  const unknown = new Set<string>();
  for (const [raw, where] of [[fromBase, (p: string) => baseFile?.where(p) ?? 'base'], [fromFile, origin]] as const) {
    for (const path of coerceAndCheckKeys(raw, fields)) {
      if (!unknown.has(path)) problems.push(unknownKey(path, where(path), schema));
      unknown.add(path);
    }
  }
  for (const path of coerceAndCheckKeys(fromCli, fields)) {
    if (!unknown.has(path)) problems.push(unknownKey(path, 'override', schema));
    unknown.add(path);
  }

  const merged = deepMerge(deepMerge(fromBase, fromFile), fromCli);
  const result = schema.safeParse(merged);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const dotted = issue.path.join('.');
      if (issue.code === 'unrecognized_keys') {
        // already reported with a suggestion, except keys inside list items (rewards.custom)
        const rest = issue.keys.filter((k) => !unknown.has(dotted === '' ? k : `${dotted}.${k}`));
        for (const k of rest) problems.push(at(dotted, `unknown key '${dotted === '' ? k : `${dotted}.${k}`}'`));
        continue;
      }
      problems.push(at(dotted, issueText(issue, merged, fields)));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  if (!result.success) throw new ConfigError(['the config does not validate']); // not reached: zod failures carry issues
  const config = result.data as z.output<S>;
  const cross = o.crossChecks?.(config) ?? [];
  if (cross.length > 0) throw new ConfigError(cross);
  return config;
}

function unknownKey(path: string, origin: string, schema: ConfigSchema): string {
  const near = suggestKey(path, schema);
  const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
  const keys = near === undefined && parent !== '' ? groupKeys(parent, schema) : [];
  const hint = near !== undefined ? ` — did you mean '${near}'?` : keys.length > 0 ? ` — '${parent}' has: ${keys.join(', ')}` : '';
  return `unknown config key '${path}'${hint} (${origin})`;
}
