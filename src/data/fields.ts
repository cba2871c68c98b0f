// Column mapping (data.fields): which column of a data file holds the question, the answer, MMLU's choices and
// subject. An unmapped field is read from the first of its usual names that the row has.
import type { ChatMessage } from '../llm/chat-template';

export interface FieldMap {
  /** The question text, or a conversational prompt (a list of {role, content} messages, TRL's `prompt`). */
  question?: string | null;
  /** The gold answer: the answer alone, or a worked solution ending in '#### <answer>'. */
  answer?: string | null;
  /** MMLU: the four answer texts. */
  choices?: string | null;
  /** MMLU: the subject name. */
  subject?: string | null;
}

export type FieldName = keyof FieldMap;

export const DEFAULT_COLUMNS: Record<FieldName, readonly string[]> = {
  question: ['question', 'problem', 'prompt'],
  answer: ['answer', 'solution'],
  choices: ['choices'],
  subject: ['subject'],
};

/** The column `field` is read from in `row`: the mapped one, else the first usual name the row has (undefined if none). */
export function columnOf(row: Record<string, unknown>, field: FieldName, map: FieldMap = {}): string | undefined {
  const mapped = map[field];
  if (mapped !== undefined && mapped !== null) return mapped;
  return DEFAULT_COLUMNS[field].find((name) => Object.hasOwn(row, name));
}

/** How a field's column is named in messages: "'text' (data.fields.question)" or "'question' (or 'problem', 'prompt')". */
export function describeColumn(field: FieldName, map: FieldMap = {}): string {
  const mapped = map[field];
  if (mapped !== undefined && mapped !== null) return `'${mapped}' (data.fields.${field})`;
  const [first, ...rest] = DEFAULT_COLUMNS[field];
  return rest.length === 0 ? `'${first}'` : `'${first}' (or ${rest.map((n) => `'${n}'`).join(', ')})`;
}

/** Throws when a mapped column is in none of the first rows: a misspelt data.fields entry would skip every row. */
export function checkMappedColumns(rows: Record<string, unknown>[], map: FieldMap, file: string): void {
  if (rows.length === 0) return;
  const seen = new Set<string>();
  for (const row of rows.slice(0, 100)) for (const k of Object.keys(row)) seen.add(k);
  for (const field of Object.keys(DEFAULT_COLUMNS) as FieldName[]) {
    const mapped = map[field];
    if (mapped !== undefined && mapped !== null && !seen.has(mapped))
      throw new Error(`data.fields.${field} is '${mapped}', but ${file} has no such column; its columns: ${[...seen].join(', ')}`);
  }
}

/**
 * A conversational prompt: a non-empty list of {role, content} messages ending with a user message (the model
 * answers it). Returns the messages, or the reason they cannot be used.
 */
export function toMessages(value: unknown[]): ChatMessage[] | string {
  if (value.length === 0) return 'the prompt is an empty list of messages';
  const messages: ChatMessage[] = [];
  for (let i = 0; i < value.length; i++) {
    const m = value[i] as { role?: unknown; content?: unknown } | null;
    if (m === null || typeof m !== 'object' || typeof m.role !== 'string' || typeof m.content !== 'string')
      return `message ${i} of the prompt is not {role: string, content: string}`;
    messages.push({ role: m.role, content: m.content });
  }
  if (messages[messages.length - 1].role !== 'user')
    return `the prompt's last message is '${messages[messages.length - 1].role}', not 'user' (the model answers the last user message)`;
  return messages;
}
