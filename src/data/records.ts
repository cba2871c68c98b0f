// One entry point for tabular data files, picked by extension.
import * as path from 'path';

import { readCsv } from './csv';
import { readJson, readJsonl } from './jsonl';
import { readParquet } from './parquet';
import { ReadResult, ResultBuilder, checkDataFile } from './read-result';

export const RECORD_EXTENSIONS = ['.jsonl', '.json', '.csv', '.parquet'] as const;

/**
 * Reads a .jsonl, .json (an array of objects, or JSON Lines), .csv (its header row names the fields) or
 * .parquet file as objects.
 */
export async function readRecords(file: string): Promise<ReadResult<Record<string, unknown>>> {
  checkDataFile(file);
  const ext = path.extname(file).toLowerCase();
  switch (ext) {
    case '.jsonl':
      return readJsonl(file);
    case '.json':
      return readJson(file);
    case '.parquet':
      return readParquet(file);
    case '.csv': {
      const csv = readCsv(file, { header: true });
      const out = new ResultBuilder<Record<string, unknown>>();
      const header = csv.header ?? [];
      csv.rows.forEach((row, r) => out.add(Object.fromEntries(header.map((name, i) => [name, row[i]])), csv.rowNumbers[r]));
      out.absorb(csv);
      return out.result();
    }
    default:
      throw new Error(`cannot read ${file}: unknown file type '${ext || '(no extension)'}' (use ${RECORD_EXTENSIONS.join(', ')})`);
  }
}
