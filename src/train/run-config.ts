// A run's config history: config.yaml is the config the run started with and is never rewritten; a resume whose
// config differs writes config-resume-<n>.yaml (the config from then on) and reports the differences.
import * as fs from 'fs';
import * as path from 'path';

import { TrainConfig, configToYaml, resolveConfig } from '../config';
import { writeFileAtomic } from '../log/atomic';

const RESUME_FILE = /^config-resume-(\d+)\.yaml$/;

function resumeFiles(runDir: string): { n: number; file: string }[] {
  if (!fs.existsSync(runDir)) return [];
  return fs.readdirSync(runDir)
    .map((f) => ({ m: RESUME_FILE.exec(f), f }))
    .filter((x) => x.m !== null)
    .map((x) => ({ n: Number(x.m![1]), file: path.join(runDir, x.f) }))
    .sort((a, b) => a.n - b.n);
}

/** The config the run last ran with: the newest config-resume-<n>.yaml, else config.yaml; null when there is none. */
export function effectiveConfigFile(runDir: string): string | null {
  const resumes = resumeFiles(runDir);
  if (resumes.length > 0) return resumes[resumes.length - 1].file;
  const first = path.join(runDir, 'config.yaml');
  return fs.existsSync(first) ? first : null;
}

const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** 'path: old → new' for every leaf (arrays compared whole) that differs between two configs. */
export function configChanges(before: unknown, after: unknown, prefix = ''): string[] {
  const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])];
    return keys.flatMap((k) => configChanges(before[k], after[k], prefix === '' ? k : `${prefix}.${k}`));
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [`${prefix}: ${show(before)} → ${show(after)}`];
}

/**
 * Records the run's config. A new run writes config.yaml. A resume compares cfg with the config the run last ran
 * with and, when they differ, writes config-resume-<n>.yaml (config.yaml stays the original). Returns the
 * differences ('path: old → new'; none for a new run or an unchanged config) and the file written (null if none).
 */
export function recordRunConfig(runDir: string, cfg: TrainConfig, resumedAtStep: number | null): { changes: string[]; file: string | null } {
  const savedFile = resumedAtStep === null ? null : effectiveConfigFile(runDir);
  if (savedFile === null) {
    const file = path.join(runDir, 'config.yaml');
    writeFileAtomic(file, configToYaml(cfg));
    return { changes: resumedAtStep === null ? [] : ['config.yaml was missing: written now with the config of this resume'], file };
  }
  const changes = configChanges(resolveConfig({ file: savedFile }), cfg);
  if (changes.length === 0) return { changes, file: null };
  const resumes = resumeFiles(runDir);
  const file = path.join(runDir, `config-resume-${resumes.length === 0 ? 1 : resumes[resumes.length - 1].n + 1}.yaml`);
  const header = `# resumed after step ${resumedAtStep}; changed since ${path.basename(savedFile)}:\n` + changes.map((c) => `#   ${c}\n`).join('');
  writeFileAtomic(file, header + configToYaml(cfg));
  return { changes, file };
}
