// The lines that end a run: where its report, metrics, completions, TensorBoard events and last checkpoint are, and how
// to continue an interrupted run.
import * as fs from 'fs';
import * as path from 'path';

export interface RunSummaryInput {
  /** What ran: 'train' or 'sft'. */
  command: string;
  stepsDone: number;
  totalSteps: number;
  interrupted: boolean;
  /** The files to name, as label → path; missing files are left out. */
  files: [string, string | null | undefined][];
  /** The command line that continues an interrupted run. */
  resume?: string;
}

/** The last checkpoint of a run directory (what its `latest` file names), or null. */
export function lastCheckpointOf(runDir: string): string | null {
  try {
    const rel = fs.readFileSync(path.join(runDir, 'latest'), 'utf8').trim();
    const dir = path.join(runDir, rel);
    return rel !== '' && fs.existsSync(dir) ? dir : null;
  } catch {
    return null;
  }
}

/** Paths relative to the working directory when inside it (shorter, and what the user typed). */
const shown = (p: string): string => {
  const rel = path.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
};

export function formatRunSummary(o: RunSummaryInput): string {
  const head = o.interrupted
    ? `${o.command}: interrupted after step ${o.stepsDone} of ${o.totalSteps}`
    : `${o.command}: done, ${o.stepsDone} steps`;
  const files = o.files.filter((f): f is [string, string] => typeof f[1] === 'string' && fs.existsSync(f[1]));
  const width = Math.max(0, ...files.map(([label]) => label.length));
  const lines = [head, ...files.map(([label, p]) => `  ${`${label}:`.padEnd(width + 1)} ${shown(p)}`)];
  if (o.interrupted && o.resume) lines.push(`  continue with: ${o.resume}`);
  return lines.join('\n') + '\n';
}
