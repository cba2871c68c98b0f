// Turning what a command line gives (strings, or numbers where yargs guessed) into the type each field expects,
// and finding keys the schema does not know.
import { FieldInfo } from './fields';

export type Raw = Record<string, unknown>;

export const isPlainObject = (v: unknown): v is Raw =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

const BOOLEANS: Record<string, boolean> = { true: true, false: false, yes: true, no: false, on: true, off: false };

/** Items of a list written on a command line: JSON ('["a","b"]', '[1,2]'), '[a, b]' or 'a,b'. */
function parseList(text: string): unknown {
  const t = text.trim();
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v)) return v;
  } catch {
    // not JSON: fall through to the bare forms
  }
  const inner = t.startsWith('[') && t.endsWith(']') ? t.slice(1, -1) : t;
  if (inner.trim() === '') return [];
  return inner.split(',').map((s) => s.trim().replace(/^(['"])(.*)\1$/, '$2'));
}

/**
 * The value a string (or a number/boolean where a string is expected) stands for, given the field's type. Anything
 * that does not fit is returned unchanged so that validation reports it with the value the user gave.
 */
export function coerceValue(value: unknown, field: FieldInfo): unknown {
  if (typeof value !== 'string') {
    if ((typeof value === 'number' || typeof value === 'boolean') && (field.kind === 'string' || field.kind === 'enum')) {
      return String(value);
    }
    return value;
  }
  const text = value.trim();
  if (field.nullable && (text === 'null' || text === '~')) return null;
  switch (field.kind) {
    case 'number': {
      const n = Number(text);
      return text !== '' && Number.isFinite(n) ? n : value;
    }
    case 'boolean': {
      const b = BOOLEANS[text.toLowerCase()];
      return b === undefined ? value : b;
    }
    case 'array':
      return parseList(text);
    case 'object':
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return value;
      }
    default:
      return value;
  }
}

export interface UnknownKey {
  path: string;
}

/**
 * Coerces the leaves of raw (a partial config) in place, as coerceValue does, and returns the dotted paths of keys
 * the schema does not have. Unknown keys are not descended into.
 */
export function coerceAndCheckKeys(raw: Raw, fields: Map<string, FieldInfo>, prefix = ''): string[] {
  const unknown: string[] = [];
  for (const key of Object.keys(raw)) {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    const field = fields.get(path);
    if (field === undefined) {
      unknown.push(path);
    } else if (field.group) {
      const v = raw[key];
      if (isPlainObject(v)) unknown.push(...coerceAndCheckKeys(v, fields, path));
    } else {
      raw[key] = coerceValue(raw[key], field);
    }
  }
  return unknown;
}
