// JSON Lines: one JSON object per line.
import { ReadResult, ResultBuilder, readText } from './read-result';

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** Parses JSON Lines text; blank lines are ignored, lines that are not a JSON object are skipped and counted. */
export function parseJsonl(text: string): ReadResult<Record<string, unknown>> {
  const out = new ResultBuilder<Record<string, unknown>>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (e) {
      out.skip(i + 1, `not valid JSON: ${(e as Error).message}`);
      continue;
    }
    if (isRecord(value)) out.add(value, i + 1);
    else out.skip(i + 1, `expected a JSON object, got ${Array.isArray(value) ? 'an array' : value === null ? 'null' : typeof value}`);
  }
  return out.result();
}

/** Reads a JSON Lines file (UTF-8, optional BOM, LF or CRLF). */
export function readJsonl(file: string): ReadResult<Record<string, unknown>> {
  return parseJsonl(readText(file));
}

/**
 * Reads a .json file: either one JSON array of objects, or JSON Lines under a .json name (what Hugging Face
 * datasets' to_json writes by default).
 */
export function readJson(file: string): ReadResult<Record<string, unknown>> {
  const text = readText(file);
  if (!text.trimStart().startsWith('[')) return parseJsonl(text);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  const out = new ResultBuilder<Record<string, unknown>>();
  (value as unknown[]).forEach((item, i) => {
    if (isRecord(item)) out.add(item, i + 1);
    else out.skip(i + 1, `array element ${i} is not a JSON object`);
  });
  return out.result();
}
