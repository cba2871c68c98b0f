// A flat description of every config field (dotted path, type, default, help), read off a command's zod schema (train's
// by default) so that `--help`, key suggestions and value coercion all follow the schema without a second list to keep
// in sync.
import { z } from 'zod';
import { fieldMeta, trainConfigSchema } from './schema';

/** What a string given on the command line is turned into for a field. */
export type LeafKind = 'string' | 'number' | 'boolean' | 'enum' | 'array' | 'object';

export interface FieldInfo {
  /** Dotted path, e.g. 'grpo.beta'. */
  path: string;
  /** Readable type, e.g. 'number', 'integer | null', "'group' | 'batch' | 'none'". */
  type: string;
  default: unknown;
  help: string;
  /** True for a group of fields (model, grpo, ...), false for a value. */
  group: boolean;
  kind: LeafKind;
  nullable: boolean;
}

type AnySchema = z.core.$ZodType;

function defOf(s: AnySchema): z.core.$ZodTypeDef & Record<string, unknown> {
  return s._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
}

/** Strips default/prefault/optional/nullable wrappers; reports whether null is allowed. */
function unwrap(s: AnySchema): { inner: AnySchema; nullable: boolean } {
  let nullable = false;
  for (;;) {
    const def = defOf(s);
    if (def.type === 'nullable') nullable = true;
    if (def.type === 'default' || def.type === 'prefault' || def.type === 'optional' || def.type === 'nullable') {
      s = def.innerType as AnySchema;
    } else {
      return { inner: s, nullable };
    }
  }
}

function kindOf(inner: AnySchema): LeafKind {
  const t = defOf(inner).type;
  if (t === 'string' || t === 'number' || t === 'boolean' || t === 'enum' || t === 'array' || t === 'object') return t;
  return 'string';
}

function typeText(inner: AnySchema): string {
  const def = defOf(inner);
  switch (def.type) {
    case 'number':
      return (inner as z.ZodNumber).isInt ? 'integer' : 'number';
    case 'enum':
      return Object.values(def.entries as Record<string, string>)
        .map((v) => `'${v}'`)
        .join(' | ');
    case 'array': {
      const el = unwrap(def.element as AnySchema).inner;
      const t = typeText(el);
      return t.includes('|') ? `(${t})[]` : `${t}[]`;
    }
    case 'object':
      return 'object';
    default:
      return String(def.type);
  }
}

function walk(shape: Record<string, AnySchema>, prefix: string, defaults: Record<string, unknown>, out: FieldInfo[]): void {
  for (const [key, schema] of Object.entries(shape)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const meta = fieldMeta.get(schema as z.ZodType);
    const { inner, nullable } = unwrap(schema);
    const kind = kindOf(inner);
    const isGroup = kind === 'object';
    const base = meta?.type ?? typeText(inner);
    out.push({
      path,
      type: nullable ? `${base} | null` : base,
      default: defaults[key],
      help: meta?.help ?? '',
      group: isGroup,
      kind,
      nullable,
    });
    if (isGroup) {
      walk(defOf(inner).shape as Record<string, AnySchema>, path, (defaults[key] ?? {}) as Record<string, unknown>, out);
    }
  }
}

/** A command's config schema: a strict object of fields and groups. */
export type ConfigSchema = z.ZodObject<z.ZodRawShape, z.core.$strict>;

const cache = new WeakMap<ConfigSchema, FieldInfo[]>();

/** Defaults of a schema; its required fields (e.g. the saliency command's --input) have none: those stay undefined. */
export function schemaDefaults(schema: ConfigSchema): Record<string, unknown> {
  const r = schema.safeParse({});
  if (r.success) return r.data as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(schema.shape)) {
    const one = z.object({ v: s as z.ZodType }).safeParse({});
    if (one.success) out[key] = one.data.v;
  }
  return out;
}

/** Every field of a config schema (default: train's), groups included, in schema order. */
export function configFields(schema: ConfigSchema = trainConfigSchema): FieldInfo[] {
  let fields = cache.get(schema);
  if (fields === undefined) {
    fields = [];
    walk(schema.shape as Record<string, AnySchema>, '', schemaDefaults(schema), fields);
    cache.set(schema, fields);
  }
  return fields;
}

/** The fields by dotted path. */
export function fieldMap(schema: ConfigSchema = trainConfigSchema): Map<string, FieldInfo> {
  return new Map(configFields(schema).map((f) => [f.path, f]));
}

export interface FieldDescription {
  path: string;
  type: string;
  default: unknown;
  help: string;
}

function valueAt(o: unknown, dotted: string): unknown {
  let node = o;
  for (const key of dotted.split('.')) node = node !== null && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
  return node;
}

/**
 * One entry per settable value (groups left out): what `--help` lists. `defaults`, a resolved config, gives the
 * defaults that actually apply (train's bundled base config) instead of the schema's.
 */
export function describeConfig(schema: ConfigSchema = trainConfigSchema, defaults?: object): FieldDescription[] {
  return configFields(schema)
    .filter((f) => !f.group)
    .map(({ path, type, default: d, help }) => ({ path, type, default: defaults === undefined ? d : valueAt(defaults, path), help }));
}
