// The run folder without a model: names that cannot leave runsDir, the real cause when the folder cannot be made,
// checkpoints found safely (a bad `latest`, leftovers of interrupted writes), when a name is free, the config history
// of resumes, and the SIGINT/SIGTERM watcher.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { resolveConfig } from '../src/config';
import { cleanCheckpoints, latestCheckpoint } from '../src/train/checkpoint';
import { StepAborted, exitCodeOf, watchInterrupts } from '../src/train/interrupts';
import { configChanges, effectiveConfigFile, recordRunConfig } from '../src/train/run-config';
import { ensureWritableDir, openRunDir, runDirectory } from '../src/train/run-dir';
import { thrown } from './helpers';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-runfolder-'));
let serial = 0;
const fresh = () => fs.mkdtempSync(path.join(tmp, `case${serial++}-`));

/** A fake checkpoint folder (only what latestCheckpoint reads): state.json, and COMPLETE when complete. */
function checkpoint(runDir: string, step: number, complete = true): string {
  const dir = path.join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ step, dataPosition: step * 2, epoch: 0, seed: 0 }));
  if (complete) fs.writeFileSync(path.join(dir, 'COMPLETE'), '');
  return dir;
}

describe('run names stay inside runsDir', () => {
  test('runDirectory rejects names with a path in them', () => {
    for (const bad of ['../../x', 'a/b', '..', '.', 'a\\b', ''])
      expect(thrown(() => runDirectory(tmp, bad)).message).toMatch(/is not a folder name/);
    expect(runDirectory(tmp, 'ok-1')).toBe(path.join(path.resolve(tmp), 'ok-1'));
  });

  test('the config rejects such a name, and an lr that overflows float32, saying why', () => {
    expect(thrown(() => resolveConfig({ overrides: ['name=../../x'] })).message)
      .toContain("'name': got '../../x'; allowed: a folder name without '/', '\\', '.' or '..'");
    const lr = thrown(() => resolveConfig({ overrides: ['optim.lr=1e38'] })).message;
    expect(lr).toMatch(/'optim\.lr': got 1e\+38 \(out of range: .*overflows float32/);
    expect(resolveConfig({ overrides: ['optim.lr=1e15'] }).optim.lr).toBe(1e15); // in range; the update guard handles it
  });
});

describe('ensureWritableDir gives the real cause', () => {
  test('a path under a file: ENOTDIR, naming the file', () => {
    const file = path.join(fresh(), 'plain-file');
    fs.writeFileSync(file, '');
    const m = thrown(() => ensureWritableDir(path.join(file, 'runs', 'x'), 'the run folder', 'use another --runsDir')).message;
    expect(m).toBe(`cannot create the run folder ${path.join(file, 'runs', 'x')}: ${file} is a file, not a folder (ENOTDIR); use another --runsDir`);
  });

  test('a read-only file system: EROFS and the folder at fault, not the ENOENT of a recursive mkdir', () => {
    const base = fresh();
    // The module object itself (the `import * as fs` namespace cannot be spied on); src reads through to it.
    const nodeFs = jest.requireActual<typeof fs>('fs');
    const real = nodeFs.mkdirSync.bind(nodeFs);
    const spy = jest.spyOn(nodeFs, 'mkdirSync').mockImplementation(((p: fs.PathLike, o?: fs.MakeDirectoryOptions) => {
      if (String(p).startsWith(base)) {
        // What a read-only mount gives: recursive mkdir says ENOENT, a single mkdir the real EROFS.
        const recursive = typeof o === 'object' && o?.recursive;
        throw Object.assign(new Error(`${recursive ? 'ENOENT' : 'EROFS'}: mkdir '${String(p)}'`), { code: recursive ? 'ENOENT' : 'EROFS', path: String(p) });
      }
      return real(p, o);
    }) as typeof fs.mkdirSync);
    try {
      const m = thrown(() => ensureWritableDir(path.join(base, 'runs', 'r1'), 'the run folder', 'pass --runsDir DIR on a writable disk')).message;
      expect(m).toBe(`cannot create the run folder ${path.join(base, 'runs', 'r1')}: ${base} is on a read-only file system (EROFS); pass --runsDir DIR on a writable disk`);
    } finally {
      spy.mockRestore();
    }
  });

  test('creates missing parents one by one', () => {
    const dir = path.join(fresh(), 'a', 'b', 'c');
    ensureWritableDir(dir, 'the run folder', '');
    expect(fs.statSync(dir).isDirectory()).toBe(true);
  });
});

describe('finding the checkpoint', () => {
  test('`latest` naming a complete checkpoint is used', () => {
    const run = fresh();
    checkpoint(run, 2);
    checkpoint(run, 4);
    fs.writeFileSync(path.join(run, 'latest'), 'checkpoints/step-000002\n');
    const c = latestCheckpoint(run)!;
    expect(c.state.step).toBe(2);
    expect(c.note).toBeNull();
  });

  test.each([
    ['outside the run folder', '../../../etc'],
    ['absolute', '/etc'],
    ['a missing step', 'checkpoints/step-000009'],
    ['an incomplete step', 'checkpoints/step-000006'],
    ['a path inside a checkpoint', 'checkpoints/step-000004/../../..'],
  ])('a `latest` pointing %s is not followed: the newest complete checkpoint is used, with a note', (_what, pointer) => {
    const run = fresh();
    checkpoint(run, 2);
    checkpoint(run, 4);
    checkpoint(run, 6, false);
    fs.writeFileSync(path.join(run, 'latest'), `${pointer}\n`);
    const c = latestCheckpoint(run)!;
    expect(c.dir).toBe(path.join(run, 'checkpoints', 'step-000004'));
    expect(c.note).toMatch(/using the newest complete checkpoint, checkpoints\/step-000004/);
  });

  test('no `latest` and no complete checkpoint: none', () => {
    const run = fresh();
    checkpoint(run, 2, false);
    expect(latestCheckpoint(run)).toBeNull();
  });

  test('leftovers of interrupted saves and deletions are removed; complete checkpoints stay', () => {
    const run = fresh();
    checkpoint(run, 2);
    checkpoint(run, 4, false); // a kill during its deletion (or before COMPLETE)
    fs.mkdirSync(path.join(run, 'checkpoints', '.step-000006.tmp-123'));
    fs.mkdirSync(path.join(run, 'checkpoints', '.step-000001.del-123'));
    expect(cleanCheckpoints(run).sort()).toEqual(['.step-000001.del-123', '.step-000006.tmp-123', 'step-000004']);
    expect(fs.readdirSync(path.join(run, 'checkpoints'))).toEqual(['step-000002']);
  });
});

describe('openRunDir: when a name is free', () => {
  test('a run that stopped before its first checkpoint does not block its name: it starts over', () => {
    const runs = fresh();
    const dir = path.join(runs, 'early');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'metrics.jsonl'), '{"step": 1}\n');
    fs.writeFileSync(path.join(dir, 'config.yaml'), 'name: early\n');
    checkpoint(dir, 1, false);
    const opened = openRunDir(runs, 'early', false);
    expect(opened.checkpoint).toBeNull();
    expect(opened.notes.join('\n')).toMatch(/stopped before its first checkpoint: starting it over/);
    expect(fs.existsSync(path.join(dir, 'metrics.jsonl'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'checkpoints'))).toEqual([]);
  });

  test('a checkpointed run blocks its name; resume needs a checkpoint and says so', () => {
    const runs = fresh();
    checkpoint(path.join(runs, 'done'), 3);
    expect(thrown(() => openRunDir(runs, 'done', false)).message).toMatch(/already holds a run: pass --resume to continue it, or another --name/);
    expect(openRunDir(runs, 'done', true).checkpoint!.state.step).toBe(3);
    fs.mkdirSync(path.join(runs, 'none'));
    fs.writeFileSync(path.join(runs, 'none', 'metrics.jsonl'), '');
    expect(thrown(() => openRunDir(runs, 'none', true)).message)
      .toBe('--resume: run none has no checkpoint: it stopped before its first one (run it again without --resume to start it over: the name is free)');
    expect(thrown(() => openRunDir(runs, 'missing', true)).message).toMatch(/--resume: there is no run missing \(no folder .*missing\)/);
  });
});

describe('config history on resume', () => {
  const base = () => resolveConfig({ file: 'configs/tiny-synthetic.yaml', overrides: { name: 'r' } });

  test('config.yaml stays the original; each resume that changes something adds config-resume-<n>.yaml', () => {
    const run = fresh();
    const cfg = base();
    expect(recordRunConfig(run, cfg, null)).toEqual({ changes: [], file: path.join(run, 'config.yaml') });
    const original = fs.readFileSync(path.join(run, 'config.yaml'), 'utf8');

    const faster = { ...cfg, optim: { ...cfg.optim, lr: 1e-3 } };
    const first = recordRunConfig(run, faster, 4);
    expect(first.changes).toEqual(['optim.lr: 0.00001 → 0.001']);
    expect(first.file).toBe(path.join(run, 'config-resume-1.yaml'));
    expect(fs.readFileSync(path.join(run, 'config.yaml'), 'utf8')).toBe(original);
    expect(fs.readFileSync(first.file!, 'utf8')).toMatch(/^# resumed after step 4; changed since config.yaml:\n#   optim.lr: 0.00001 → 0.001\n/);
    expect(effectiveConfigFile(run)).toBe(first.file);
    expect(resolveConfig({ file: effectiveConfigFile(run)! }).optim.lr).toBe(1e-3);

    expect(recordRunConfig(run, faster, 6)).toEqual({ changes: [], file: null }); // unchanged: nothing written
    const longer = { ...faster, grpo: { ...faster.grpo, steps: 100 } };
    const second = recordRunConfig(run, longer, 8);
    expect(second.changes).toEqual(['grpo.steps: 60 → 100']);
    expect(path.basename(second.file!)).toBe('config-resume-2.yaml');
  });

  test('configChanges lists leaves, arrays whole', () => {
    expect(configChanges({ a: { b: 1, c: [1, 2] }, d: 'x' }, { a: { b: 2, c: [1, 2] }, d: 'y' })).toEqual(['a.b: 1 → 2', 'd: x → y']);
    expect(configChanges({ a: [1] }, { a: [1, 2] })).toEqual(['a: [1] → [1,2]']);
  });
});

describe('SIGINT and SIGTERM', () => {
  test.each(['SIGINT', 'SIGTERM'] as const)('%s is recorded and aborts the step at the next safe point', (signal) => {
    const seen: string[] = [];
    const listeners = process.listenerCount(signal);
    const w = watchInterrupts((s) => seen.push(s));
    try {
      expect(() => w.throwIfSignalled()).not.toThrow();
      process.emit(signal, signal);
      expect(w.signal).toBe(signal);
      expect(seen).toEqual([signal]);
      expect(thrown(() => w.throwIfSignalled())).toBeInstanceOf(StepAborted);
    } finally {
      w.dispose();
    }
    expect(process.listenerCount(signal)).toBe(listeners);
  });

  test('exit codes as a shell reports them', () => {
    expect(exitCodeOf('SIGINT')).toBe(130);
    expect(exitCodeOf('SIGTERM')).toBe(143);
  });
});
