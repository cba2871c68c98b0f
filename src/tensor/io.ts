// save/load in the safetensors format, the format Hugging Face models ship in.
import { native, NativeTensor } from '../native';
import { Tensor } from './tensor';

export type TensorRecord = Record<string, Tensor>;
export interface LoadOptions {
  /** Where the tensors go: 'cpu' (default) or 'cuda[:N]' (copied there). */
  device?: string;
  /**
   * Map the file instead of reading it (default false): CPU tensors are then zero-copy, copy-on-write views of the
   * file (in-place ops never reach it), which saves the read and the memory of untouched data. Risk: if the file is
   * truncated or overwritten in place (`cp` over it) while such tensors live, touching them kills the process with
   * SIGBUS. Replacing the file by rename (what save() does) is safe. Without mmap every tensor owns its memory.
   */
  mmap?: boolean;
}

function checkPath(path: unknown, fn: string): string {
  if (typeof path !== 'string' || path === '') throw new TypeError(`wrong argument type: ${fn}() path must be a non-empty string`);
  if (path.includes('\0')) throw new TypeError(`invalid path: ${fn}() path contains a NUL character`);
  return path;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x) && !(x instanceof Tensor);
}

// Sets an own property even for keys like '__proto__', which plain assignment would treat as the prototype.
function setOwn<T>(o: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Writes the tensors of `record` (any device, any layout) and optional string metadata to a safetensors file.
 * The file is replaced atomically: if saving fails, an existing file at `path` is left as it was.
 */
export function save(path: string, record: TensorRecord, metadata?: Record<string, string>): void {
  checkPath(path, 'save');
  if (!isPlainObject(record)) throw new TypeError('wrong argument type: save() record must be an object mapping names to Tensors');
  const names = Object.keys(record);
  const handles: NativeTensor[] = names.map((name) => {
    const t = record[name];
    if (!(t instanceof Tensor))
      throw new TypeError(`wrong argument type: save() record['${name}'] must be a Tensor, got ${t === null ? 'null' : typeof t}`);
    return t.handle;
  });
  const meta: Record<string, string> = {};
  if (metadata !== undefined) {
    if (!isPlainObject(metadata)) throw new TypeError('wrong argument type: save() metadata must be an object mapping strings to strings');
    for (const [key, value] of Object.entries(metadata)) {
      if (typeof value !== 'string')
        throw new TypeError(`wrong argument type: save() metadata['${key}'] must be a string, got ${typeof value}`);
      setOwn(meta, key, value);
    }
  }
  native.saveSafetensors(path, names, handles, meta);
}

/** Reads a safetensors file: its tensors by name (in file order) and its string metadata. */
export function load(path: string, opts: LoadOptions = {}): { tensors: TensorRecord; metadata: Record<string, string> } {
  checkPath(path, 'load');
  if (opts === null || typeof opts !== 'object') throw new TypeError('wrong argument type: load() options must be an object {device, mmap}');
  if (opts.device !== undefined && typeof opts.device !== 'string') throw new TypeError('wrong argument type: load() device must be a string');
  if (opts.mmap !== undefined && typeof opts.mmap !== 'boolean') throw new TypeError('wrong argument type: load() mmap must be a boolean');
  const raw = native.loadSafetensors(path, opts.device, opts.mmap ?? false);
  const tensors: TensorRecord = {};
  for (const [name, handle] of Object.entries(raw.tensors)) setOwn(tensors, name, new Tensor(handle));
  return { tensors, metadata: raw.metadata };
}
