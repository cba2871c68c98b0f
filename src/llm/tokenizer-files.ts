// The files that make up a Hugging Face tokenizer directory, and copying them beside saved weights so that every
// model directory the project writes (sft output, checkpoints) loads on its own.
import * as fs from 'fs';
import * as path from 'path';

export const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

/** Copies those of TOKENIZER_FILES that exist in fromDir into toDir. */
export function copyTokenizerFiles(fromDir: string, toDir: string): void {
  for (const f of TOKENIZER_FILES) if (fs.existsSync(path.join(fromDir, f))) fs.copyFileSync(path.join(fromDir, f), path.join(toDir, f));
}
