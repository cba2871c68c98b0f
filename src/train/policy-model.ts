// The policy a run trains: the model of model.path, fully trainable, or with lora.r > 0 that base frozen under a LoRA
// adapter (fresh, or the checkpoint's on --resume). A LoRA run's checkpoints hold only the adapter (checkpoint.ts).
import * as fs from 'fs';
import * as path from 'path';

import type { TrainConfig } from '../config';
import { LlamaLoadOptions, LlamaModel } from '../llm/model';
import { manualSeed } from '../tensor/creation';
import type { LoadedCheckpoint } from './checkpoint';

export async function loadPolicy(
  cfg: Pick<TrainConfig, 'model' | 'lora' | 'seed'>, checkpoint: LoadedCheckpoint | null, opts: LlamaLoadOptions,
): Promise<LlamaModel> {
  const l = cfg.lora;
  if (checkpoint && (l.r > 0) !== (checkpoint.adapterDir !== null))
    throw new Error(l.r > 0
      ? `cannot resume with lora.r ${l.r}: checkpoint ${checkpoint.dir} holds a full model (the run trained without LoRA); resume with --lora.r 0 or start a new run`
      : `cannot resume with lora.r 0: checkpoint ${checkpoint.dir} holds a LoRA adapter; resume with the run's lora settings (--lora.r N)`);
  const model = await LlamaModel.load(checkpoint?.modelDir ?? cfg.model.path, opts);
  if (l.r === 0) return model;
  try {
    if (checkpoint) {
      await model.loadAdapter(checkpoint.adapterDir!);
      const a = model.adapter!;
      const want = { r: l.r, alpha: l.alpha ?? 2 * l.r, dropout: l.dropout, targetModules: [...l.targetModules].sort().join(',') };
      const have = { r: a.r, alpha: a.alpha, dropout: a.dropout, targetModules: [...a.targetModules].sort().join(',') };
      const differ = (Object.keys(want) as (keyof typeof want)[]).filter((k) => want[k] !== have[k]);
      if (differ.length > 0)
        throw new Error(`cannot resume: the adapter of checkpoint ${checkpoint.dir} has ${differ.map((k) => `lora.${k} ${have[k]}`).join(', ')}, ` +
          `the config says ${differ.map((k) => want[k]).join(', ')}; a run keeps its adapter's shape: resume with the run's lora settings`);
    } else {
      manualSeed(cfg.seed); // A's initialization
      model.addLora({ r: l.r, alpha: l.alpha ?? 2 * l.r, dropout: l.dropout, targetModules: l.targetModules, baseModel: cfg.model.path });
    }
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** Writes the model's adapter (PEFT format) to <runDir>/adapter through a temporary folder, replacing an older one. */
export function saveRunAdapter(runDir: string, model: LlamaModel): string {
  const out = path.join(runDir, 'adapter');
  const tmp = path.join(runDir, `.adapter.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  model.saveAdapter(tmp);
  const old = path.join(runDir, `.adapter.old-${process.pid}`);
  if (fs.existsSync(out)) fs.renameSync(out, old);
  fs.renameSync(tmp, out);
  fs.rmSync(old, { recursive: true, force: true });
  return out;
}
