// Reading the small files of a model folder with limits: only regular files (a symlink to /dev/zero or a FIFO is
// refused, not read forever or waited on) and a size cap per file, generous next to real models.
import * as fs from 'fs';
import * as path from 'path';

/** Size caps in bytes (README lists them). Llama 3's tokenizer.json is 9 MB, its tokenizer_config.json 50 KB. */
export const MODEL_FILE_LIMITS: Readonly<Record<string, number>> = Object.freeze({
  'tokenizer.json': 256 * 2 ** 20,
  'tokenizer_config.json': 64 * 2 ** 20,
  'generation_config.json': 16 * 2 ** 20,
});
const DEFAULT_LIMIT = 16 * 2 ** 20;

/**
 * The text of `file`, or undefined when it does not exist and `required` is false. Throws an Error naming the file
 * when it is not a regular file or larger than its cap.
 */
export function readModelFile(file: string, required: boolean): string | undefined {
  const name = path.basename(file);
  const limit = MODEL_FILE_LIMITS[name] ?? DEFAULT_LIMIT;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (e) {
    if (!required && (e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${name} in ${path.dirname(file)}: ${(e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile())
      throw new Error(`cannot read ${name} in ${path.dirname(file)}: it is ${st.isDirectory() ? 'a directory' : 'not a regular file (a device, FIFO or socket)'}`);
    if (st.size > limit)
      throw new Error(`${name} in ${path.dirname(file)} is ${st.size} bytes, more than the limit of ${limit / 2 ** 20} MiB for this file: it is not a ${name} a model folder would hold`);
    const buf = Buffer.alloc(st.size);
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(fd, buf, done, buf.length - done, done);
      if (n === 0) throw new Error(`${name} in ${path.dirname(file)} shrank while being read`);
      done += n;
    }
    return buf.toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}
