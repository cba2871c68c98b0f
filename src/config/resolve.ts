// resolveConfig: schema defaults ← config file ← command-line overrides, validated in one pass that reports every
// problem at once with where it came from.
import { z } from 'zod';
import { coerceAndCheckKeys, Raw } from './coerce';
import { FieldInfo, fieldMap } from './fields';
import { loadConfigFile, LoadedFile } from './load-file';
import { deepMerge, leafPaths, parseOverrides } from './overrides';
import { TrainConfig, trainConfigSchema } from './schema';
import { suggestKey } from './suggest';

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
  /** A .yaml/.yml/.json config file. */
  file?: string;
  /** { grpo: { beta: 0.04 } } or ['grpo.beta=0.04']; string values are coerced to the field's type. */
  overrides?: Record<string, unknown> | string[];
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
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

/** Checks between fields that the per-field schema cannot express. */
function crossChecks(c: TrainConfig): string[] {
  const out: string[] = [];
  const s = c.data.synthetic;
  if (s.minOps > s.maxOps) {
    out.push(`'data.synthetic.minOps' (${s.minOps}) is larger than 'data.synthetic.maxOps' (${s.maxOps})`);
  }
  if (c.grpo.epsilonHigh !== null && c.grpo.epsilonHigh < c.grpo.epsilon) {
    out.push(`'grpo.epsilonHigh' (${c.grpo.epsilonHigh}) is below 'grpo.epsilon' (${c.grpo.epsilon}); use null for symmetric clipping`);
  }
  return out;
}

/**
 * The train config: defaults, then the file, then the overrides. Throws ConfigError listing every unknown key (with
 * the nearest valid name), wrong type or value (with what is allowed), and ConfigFileError for unreadable files.
 */
export function resolveConfig(o: ResolveOptions = {}): TrainConfig {
  const fields = fieldMap();
  const problems: string[] = [];
  let loaded: LoadedFile | undefined;
  if (o.file !== undefined) loaded = loadConfigFile(o.file);
  const fromFile: Raw = loaded?.data ?? {};
  const fromCli = o.overrides === undefined ? {} : parseOverrides(o.overrides, problems);
  const cliPaths = new Set(leafPaths(fromCli));

  // Says where a key came from: the override that set it, or the file (with its line for YAML).
  const origin = (dotted: string): string => {
    for (const p of cliPaths) if (p === dotted || p.startsWith(`${dotted}.`) || dotted.startsWith(`${p}.`)) return 'override';
    return loaded !== undefined ? loaded.where(dotted) : 'config';
  };
  const at = (dotted: string, text: string): string => `${text} (${origin(dotted)})`;

  const unknown = new Set<string>();
  for (const path of coerceAndCheckKeys(fromFile, fields)) {
    unknown.add(path);
    problems.push(unknownKey(path, origin(path)));
  }
  for (const path of coerceAndCheckKeys(fromCli, fields)) {
    if (!unknown.has(path)) problems.push(unknownKey(path, 'override'));
    unknown.add(path);
  }

  const merged = deepMerge(fromFile, fromCli);
  const result = trainConfigSchema.safeParse(merged);
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
  const cross = crossChecks(result.data);
  if (cross.length > 0) throw new ConfigError(cross);
  return result.data;
}

function unknownKey(path: string, origin: string): string {
  const near = suggestKey(path);
  return `unknown config key '${path}'${near === undefined ? '' : ` — did you mean '${near}'?`} (${origin})`;
}

