// train(): a GRPO run from a script, configured exactly as the `train` command is (bundled default, then a config
// file, then fields), validated by the same schema.
import { TrainConfig, TrainConfigInput, resolveTrainConfig } from '../config';
import { resolvePackagePath } from '../config/package-path';
import { effectiveConfigFile } from '../train/run-config';
import { runDirectory } from '../train/run-dir';
import { TrainOutcome, train as runTrainer } from '../train/trainer';

export interface TrainRunOptions {
  /** A YAML/JSON run config or a bundled config's name; it layers over the bundled default (tiny-synthetic). */
  configFile?: string;
  /** Config fields over the file, nested as in the YAML: { grpo: { steps: 2 }, runsDir: 'runs' }. */
  config?: TrainConfigInput;
  /** Continue the run `config.name` from its latest checkpoint (its saved config.yaml is the file). */
  resume?: boolean;
  /** Stop (as Ctrl-C would: checkpoint, interrupted = true) after this many steps of this call. */
  stopAfter?: number;
  /** Where messages and the progress bar go (default stderr). */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The run's config: file and fields over the bundled default; with `resume`, the run's own saved config.yaml. */
export function trainConfigOf(o: Pick<TrainRunOptions, 'configFile' | 'config' | 'resume'>): TrainConfig {
  const overrides = (o.config ?? {}) as Record<string, unknown>;
  let cfg = resolveTrainConfig({ file: o.configFile, overrides });
  if (o.resume) {
    if (cfg.name === null) throw new Error('resume needs the name of the run to continue (--name RUN)');
    // The config the run last ran with (config-resume-<n>.yaml after a changed resume), the fields given now on top.
    const saved = effectiveConfigFile(runDirectory(cfg.runsDir, cfg.name));
    if (saved !== null) cfg = resolveTrainConfig({ file: saved, overrides });
  }
  return { ...cfg, model: { ...cfg.model, path: resolvePackagePath(cfg.model.path) } };
}

/** Runs GRPO training; writes runs/<name>/ (config.yaml, metrics.jsonl, completions.jsonl, report.html, checkpoints). */
export async function train(o: TrainRunOptions = {}): Promise<TrainOutcome> {
  const config = trainConfigOf(o);
  return runTrainer({ config, resume: o.resume, stopAfter: o.stopAfter, stream: o.stream });
}
