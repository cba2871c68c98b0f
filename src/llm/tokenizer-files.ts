// The files that make up a Hugging Face tokenizer directory, and copying them beside saved weights so that every
// model directory the project writes (sft output, checkpoints) loads on its own.
import * as fs from 'fs';
import * as path from 'path';

import { MODEL_FILE_LIMITS } from './read-model-file';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

/** Copies those of TOKENIZER_FILES that exist in fromDir into toDir; each must be a regular file within its size cap. */
export function copyTokenizerFiles(fromDir: string, toDir: string): void {
  for (const f of TOKENIZER_FILES) {
    const from = path.join(fromDir, f);
    if (!fs.existsSync(from)) continue;
    const st = fs.statSync(from);
    const limit = MODEL_FILE_LIMITS[f] ?? 16 * 2 ** 20;
    if (!st.isFile() || st.size > limit)
      throw new Error(`cannot copy ${f} from ${fromDir}: ${st.isFile() ? `it is ${st.size} bytes, over the ${limit / 2 ** 20} MiB limit` : 'it is not a regular file'}`);
    fs.copyFileSync(from, path.join(toDir, f));
  }
}
