// A flat description of every config field (dotted path, type, default, help), read off the zod schema so that
// `--help`, key suggestions and value coercion all follow the schema without a second list to keep in sync.
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
      walk(defOf(inner).shape as Record<string, AnySchema>, path, defaults[key] as Record<string, unknown>, out);
    }
  }
}

let cache: FieldInfo[] | undefined;

/** Every field of the train config, groups included, in schema order. */
export function configFields(): FieldInfo[] {
  if (cache === undefined) {
    const out: FieldInfo[] = [];
    walk(trainConfigSchema.shape as Record<string, AnySchema>, '', trainConfigSchema.parse({}), out);
    cache = out;
  }
  return cache;
}

/** The fields by dotted path. */
export function fieldMap(): Map<string, FieldInfo> {
  return new Map(configFields().map((f) => [f.path, f]));
}

export interface FieldDescription {
  path: string;
  type: string;
  default: unknown;
  help: string;
}

/** One entry per settable value (groups left out): what `--help` lists. */
export function describeConfig(): FieldDescription[] {
  return configFields()
    .filter((f) => !f.group)
    .map(({ path, type, default: d, help }) => ({ path, type, default: d, help }));
}
