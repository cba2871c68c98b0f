// The run folder <runsDir>/<name>: where it is (never outside runsDir), creating it with the real cause when that
// fails, and deciding at start whether a new run or a resume may use it.
import * as fs from 'fs';
import * as path from 'path';

import { LoadedCheckpoint, cleanCheckpoints, completeCheckpoints, latestCheckpoint } from './checkpoint';

/** <runsDir>/<name>, absolute; rejects a name that is not one folder name (it would leave runsDir). */
export function runDirectory(runsDir: string, name: string): string {
  if (name.length === 0 || name === '.' || name === '..' || /[/\\\0]/.test(name))
    throw new Error(`run name ${JSON.stringify(name)} is not a folder name: use letters, digits, '-', '_' or '.', without '/' or '..'`);
  const root = path.resolve(runsDir);
  const dir = path.resolve(root, name);
  if (path.dirname(dir) !== root) throw new Error(`run name ${JSON.stringify(name)} leaves ${root}; use a plain folder name`);
  return dir;
}

const CAUSES: Record<string, string> = {
  EROFS: 'is on a read-only file system (EROFS)',
  EACCES: 'is not writable by this user (EACCES)',
  EPERM: 'is not writable by this user (EPERM)',
  ENOSPC: 'is on a full disk (ENOSPC)',
  EDQUOT: 'is on a disk whose quota is used up (EDQUOT)',
  ENOTDIR: 'is a file, not a folder (ENOTDIR)',
  EEXIST: 'is a file, not a folder (EEXIST)',
};

/**
 * Creates dir (and its missing parents, one by one) and checks that it is writable; a failure names the folder at
 * fault and the real cause, then `advice`. (Node's recursive mkdir reports a read-only file system as ENOENT.)
 */
export function ensureWritableDir(dir: string, what: string, advice: string): void {
  const missing: string[] = [];
  for (let d = path.resolve(dir); !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  let culprit = path.resolve(dir);
  try {
    for (const d of missing) {
      culprit = path.dirname(d); // creating d fails because of its parent
      fs.mkdirSync(d);
    }
    culprit = path.resolve(dir);
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const cause = CAUSES[err.code ?? ''];
    throw new Error(`cannot ${missing.length > 0 ? 'create' : 'write to'} ${what} ${dir}: ${cause ? `${culprit} ${cause}` : err.message}; ${advice}`);
  }
}

/** Files a run writes at its top level (besides checkpoints/): removed when a run that never checkpointed starts over. */
const RUN_FILES = ['metrics.jsonl', 'completions.jsonl', 'report.html', 'latest', 'config.yaml'];
const RESUME_CONFIG = /^config-resume-\d+\.yaml$/;

function cleaned(runDir: string): string[] {
  const removed = cleanCheckpoints(runDir);
  return removed.length > 0 ? [`removed incomplete checkpoint leftovers: ${removed.join(', ')}`] : [];
}

export interface OpenedRun {
  runDir: string;
  /** The checkpoint to resume from (resume only). */
  checkpoint: LoadedCheckpoint | null;
  /** Things worth telling the user (a run started over, leftovers removed, `latest` not used). */
  notes: string[];
}

/**
 * Opens <runsDir>/<name> for a run. New run: the folder must not hold a checkpointed run; one that stopped before its
 * first checkpoint is started over. Resume: the folder must hold a checkpoint. Both create the folder if needed
 * (ensureWritableDir) and remove leftovers of interrupted checkpoint writes.
 */
export function openRunDir(runsDir: string, name: string, resume: boolean): OpenedRun {
  const runDir = runDirectory(runsDir, name);
  const notes: string[] = [];
  const rerun = `(run it again without --resume to start it over: the name is free)`;
  if (resume && !fs.existsSync(runDir)) throw new Error(`--resume: there is no run ${name} (no folder ${runDir}); check --name and --runsDir`);
  if (fs.existsSync(runDir) && !fs.statSync(runDir).isDirectory()) throw new Error(`${runDir} is a file, not a run folder; choose another --name`);
  if (resume) {
    ensureWritableDir(runDir, 'the run folder', 'resume on a writable copy of the run folder (--runsDir)');
    notes.push(...cleaned(runDir));
    const checkpoint = latestCheckpoint(runDir);
    if (checkpoint === null) throw new Error(`--resume: run ${name} has no checkpoint: it stopped before its first one ${rerun}`);
    if (checkpoint.note !== null) notes.push(checkpoint.note);
    return { runDir, checkpoint, notes };
  }
  if (completeCheckpoints(runDir).length > 0)
    throw new Error(`run folder ${runDir} already holds a run: pass --resume to continue it, or another --name`);
  ensureWritableDir(runDir, 'the run folder', 'pass --runsDir DIR on a writable disk (e.g. --runsDir /tmp/runs)');
  notes.push(...cleaned(runDir));
  const earlier = fs.readdirSync(runDir).filter((f) => RUN_FILES.includes(f) || RESUME_CONFIG.test(f));
  for (const f of earlier) fs.rmSync(path.join(runDir, f), { force: true });
  if (earlier.includes('metrics.jsonl')) notes.push(`${runDir} held a run that stopped before its first checkpoint: starting it over`);
  return { runDir, checkpoint: null, notes };
}
