// Reading a config file (.yaml/.yml or .json) into a plain object, with errors that name the file and line.
import * as fs from 'fs';
import * as path from 'path';
import { Document, isMap, isScalar, LineCounter, parseDocument } from 'yaml';
import { isPlainObject, Raw } from './coerce';

export interface LoadedFile {
  file: string;
  data: Raw;
  /** 'file:line' of a dotted key path where known (YAML files), for messages about that key. */
  where(dotted: string): string;
}

export class ConfigFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigFileError';
  }
}

function lineOfKey(doc: Document, counter: LineCounter, dotted: string): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  for (const seg of dotted.split('.')) {
    if (!isMap(node)) break;
    const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === seg);
    if (pair === undefined) break;
    const start = isScalar(pair.key) ? pair.key.range?.[0] : undefined;
    if (start !== undefined) line = counter.linePos(start).line;
    node = pair.value;
  }
  return line;
}

/** Reads and parses a config file; throws ConfigFileError naming the file (and line) when it cannot. */
export function loadConfigFile(file: string): LoadedFile {
  const ext = path.extname(file).toLowerCase();
  if (ext !== '.yaml' && ext !== '.yml' && ext !== '.json') {
    throw new ConfigFileError(`config file ${file}: unsupported extension '${ext}' (use .yaml, .yml or .json)`);
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (e as Error).message;
    throw new ConfigFileError(`config file ${file}: cannot read it (${why})`);
  }

  let data: unknown;
  let where = (_dotted: string): string => file;
  if (ext === '.json') {
    try {
      data = JSON.parse(text);
    } catch (e) {
      throw new ConfigFileError(`config file ${file}: invalid JSON (${(e as Error).message})`);
    }
  } else {
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter, prettyErrors: false, uniqueKeys: true });
    if (doc.errors.length > 0) {
      const err = doc.errors[0];
      const pos = counter.linePos(err.pos[0]);
      const msg = err.message.split('\n')[0];
      throw new ConfigFileError(`${file}:${pos.line}:${pos.col}: invalid YAML (${msg})`);
    }
    data = doc.toJS();
    where = (dotted: string): string => {
      const line = lineOfKey(doc, counter, dotted);
      return line === undefined ? file : `${file}:${line}`;
    };
  }
  if (data === null || data === undefined) data = {}; // an empty file means all defaults
  if (!isPlainObject(data)) {
    throw new ConfigFileError(`config file ${file}: expected a mapping of keys to values at the top level`);
  }
  return { file, data, where };
}
