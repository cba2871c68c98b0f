// Parquet via hyparquet. hyparquet is an ES module only: Node >= 20.19 can require() it (and jest can, once it
// transforms the package); older Node cannot, so fall back to a real dynamic import there.
import * as fs from 'fs';
import { pathToFileURL } from 'url';

import { ReadResult, ResultBuilder, checkDataFile } from './read-result';

type Hyparquet = typeof import('hyparquet');

let hyparquet: Promise<Hyparquet> | undefined;

function loadHyparquet(): Promise<Hyparquet> {
  hyparquet ??= (async () => {
    try {
      return require('hyparquet') as Hyparquet;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_REQUIRE_ESM') throw e;
      // TypeScript compiles import() to require() under CommonJS; a Function body keeps a real import().
      const importEsm = new Function('url', 'return import(url)') as (url: string) => Promise<Hyparquet>;
      return importEsm(pathToFileURL(require.resolve('hyparquet')).href);
    }
  })();
  return hyparquet;
}

// Parquet INT64 columns come back as bigint; numbers are easier on everything downstream when they fit.
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (Array.isArray(value)) return value.map(plain);
  if (value instanceof Date || value instanceof Uint8Array) return value;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

/** Reads every row of a parquet file as an object keyed by column name (lists as arrays, INT64 as numbers). */
export async function readParquet(file: string): Promise<ReadResult<Record<string, unknown>>> {
  checkDataFile(file);
  const bytes = fs.readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const { parquetReadObjects } = await loadHyparquet();
  let rows: Record<string, unknown>[];
  try {
    rows = await parquetReadObjects({ file: buffer });
  } catch (e) {
    throw new Error(`cannot read parquet file ${file}: ${(e as Error).message}`);
  }
  const out = new ResultBuilder<Record<string, unknown>>();
  rows.forEach((row, i) => out.add(plain(row) as Record<string, unknown>, i + 1));
  return out.result();
}
