// sft(): supervised fine-tuning from a script, configured exactly as the `sft` command is and validated by the same
// schema before anything is loaded or written.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { SftConfig, SftConfigInput, resolveSftConfig } from '../config';
import { resolvePackagePath } from '../config/package-path';
import { writeRandomLlama } from '../llm/init';
import { resolveDevice, resolveDtype } from '../train/device';
import { loadProblems } from '../train/problems';
import { sft as runSft } from '../train/sft';

export interface SftRunOptions {
  /** The sft fields: { model: { path } } or { initConfig, tokenizer }, out, steps, batchSize, lr, data, ... */
  config: SftConfigInput;
}

export interface SftOutcome {
  firstLoss: number;
  lastLoss: number;
  /** The model directory written (with LoRA: the adapter's). */
  out: string;
  /** A LoRA adapter was trained and written (lora.r > 0). */
  lora: boolean;
}

/** Fine-tunes on the problems' reference solutions and writes the model (and tokenizer) to config.out. */
export async function sft(o: SftRunOptions): Promise<SftOutcome> {
  const c: SftConfig = resolveSftConfig({ overrides: (o?.config ?? {}) as Record<string, unknown> });
  const device = resolveDevice(c.device);
  const tokenizerDir = resolvePackagePath((c.tokenizer ?? c.model.path)!);
  const { problems } = await loadProblems(c.data, c.seed);
  let modelDir = c.model.path === null ? null : resolvePackagePath(c.model.path);
  if (modelDir === null) {
    modelDir = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-init-'));
    writeRandomLlama(modelDir, JSON.parse(fs.readFileSync(c.initConfig!, 'utf8')), c.seed);
  }
  const r = await runSft({
    modelDir, tokenizerDir, problems, outDir: c.out, steps: c.steps, batchSize: c.batchSize, lr: c.lr, warmupSteps: c.warmupSteps,
    seed: c.seed, device, dtype: resolveDtype(c.model.dtype, device) as 'float32', json: c.json, logEvery: c.logEvery, lora: c.lora,
  });
  return { ...r, out: c.out, lora: c.lora.r > 0 };
}
