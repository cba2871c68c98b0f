// Overrides from the command line: a nested object (what yargs makes of `--grpo.beta 0.04`) or a list of
// 'a.b.c=value' strings, both turned into one nested object.
import { isPlainObject, Raw } from './coerce';

/** 'max-new-tokens' → 'maxNewTokens', so kebab-case flags work too. */
const camel = (key: string): string => key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function setPath(target: Raw, keys: string[], value: unknown): void {
  let node = target;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Raw;
  }
  node[keys[keys.length - 1]] = value;
}

/**
 * Parses overrides into a nested object; malformed list entries are reported in problems. Keys may be dotted at any
 * level ({ 'grpo.beta': 0.1 } equals { grpo: { beta: 0.1 } }) and kebab-case.
 */
export function parseOverrides(overrides: Raw | string[], problems: string[]): Raw {
  const out: Raw = {};
  if (Array.isArray(overrides)) {
    for (const entry of overrides) {
      const eq = typeof entry === 'string' ? entry.indexOf('=') : -1;
      if (eq <= 0) {
        problems.push(`override '${String(entry)}': expected 'key.path=value', e.g. 'grpo.beta=0.04'`);
        continue;
      }
      setPath(out, entry.slice(0, eq).trim().split('.').map(camel), entry.slice(eq + 1));
    }
    return out;
  }
  const flat = (o: Raw, prefix: string[]): void => {
    for (const [key, value] of Object.entries(o)) {
      const keys = [...prefix, ...key.split('.').map(camel)];
      if (isPlainObject(value)) flat(value, keys);
      else setPath(out, keys, value);
    }
  };
  flat(overrides, []);
  return out;
}

/** Deep merge: b's leaves replace a's; arrays are replaced, not concatenated. */
export function deepMerge(a: Raw, b: Raw): Raw {
  const out: Raw = { ...a };
  for (const [key, value] of Object.entries(b)) {
    out[key] = isPlainObject(value) && isPlainObject(out[key]) ? deepMerge(out[key] as Raw, value) : value;
  }
  return out;
}

/** Every dotted leaf path of o. */
export function leafPaths(o: Raw, prefix = ''): string[] {
  return Object.entries(o).flatMap(([key, value]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return isPlainObject(value) ? leafPaths(value, path) : [path];
  });
}
