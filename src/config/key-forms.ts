// Flag spellings of one field: `--data.path`, `--data-path` and `--dataPath` all name data.path. yargs turns dotted
// flags into nested objects and kebab-case ones into camelCase; this moves a camelCase key that names a nested field
// ('dataPath', 'saliencySteps', 'dataSyntheticMinOps') to that field's place.
import { isPlainObject, Raw } from './coerce';
import { FieldInfo } from './fields';

/** A dotted path or camelCase key with its separators and case dropped: 'data.synthetic.minOps' → 'datasyntheticminops'. */
const flat = (s: string): string => s.toLowerCase().replace(/[.-]/g, '');

function setPath(target: Raw, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Raw;
  }
  const last = keys[keys.length - 1];
  node[last] = isPlainObject(value) && isPlainObject(node[last]) ? { ...(node[last] as Raw), ...value } : value;
}

/**
 * raw with each key that is not a field but spells exactly one nested field without its dots (under the same
 * parent) moved there. Keys with '_' are left alone (they get a suggestion instead), as are ambiguous ones.
 */
export function canonicalKeys(raw: Raw, fields: Map<string, FieldInfo>, prefix = ''): Raw {
  const out: Raw = {};
  for (const [key, value] of Object.entries(raw)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const field = fields.get(path);
    if (field !== undefined) {
      setPath(out, [key], field.group && isPlainObject(value) ? canonicalKeys(value, fields, path) : value);
      continue;
    }
    const matches = key.includes('_')
      ? []
      : [...fields.values()].filter((f) => !f.group && f.path.startsWith(prefix === '' ? '' : `${prefix}.`) &&
          flat(f.path.slice(prefix === '' ? 0 : prefix.length + 1)) === flat(key));
    if (matches.length === 1) setPath(out, matches[0].path.slice(prefix === '' ? 0 : prefix.length + 1).split('.'), value);
    else setPath(out, [key], value);
  }
  return out;
}
