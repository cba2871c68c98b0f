// Chooses and loads the native addon: a local source build (build/Release) first, as node-gyp-build does, else the
// prebuild (prebuilds/<platform>-<arch>/) that fits the libtorch found, loaded against that libtorch.
import * as fs from 'fs';
import * as path from 'path';

import { DiscoverOptions, FoundLibtorch, discoverLibtorch } from './discover-libtorch';
import { readElfDynamic } from './elf-needed';
import { LoadCause, formatLoadError } from './load-error';
import { platformDir } from './prebuild-name';
import { preloadLibraries, preloadOrder } from './preload';
import { selectPrebuilds } from './select-prebuild';
import { findBuildTools } from './toolchain';

export type CandidateKind = 'local build' | 'prebuild';

export interface CandidateOutcome {
  file: string;
  kind: CandidateKind;
  outcome: 'loaded' | 'rejected' | 'failed' | 'not tried';
  reason: string;
}

export interface LoadReport {
  platform: string;
  packageRoot: string;
  /** The libtorch prebuilds are matched and loaded against (a local build loads the one it was built against). */
  libtorch: FoundLibtorch | null;
  /** What each discovery step found. */
  libtorchSearch: string[];
  candidates: CandidateOutcome[];
  chosen: { file: string; kind: CandidateKind; why: string } | null;
  /** Libraries loaded ahead of the addon. */
  preloaded: string[];
  warnings: string[];
  /** The error thrown when nothing loaded. */
  error?: string;
}

export interface LoadOptions {
  /** The package root (holds build/ and prebuilds/). */
  root: string;
  env?: NodeJS.ProcessEnv;
  platform?: string;
  arch?: string;
  /** Overrides for libtorch discovery (tests). */
  discover?: Omit<DiscoverOptions, 'env'>;
  /** Where the CPU-build-on-CUDA warning goes; default stderr. */
  warn?: (message: string) => void;
}

export const LOCAL_BUILD = path.join('build', 'Release', 'atman_native.node');

let lastReport: LoadReport | null = null;
let warnedCpuOnCuda = false;

/** What the last load decided (also after a failed one); null before any. */
export function lastLoadReport(): LoadReport | null {
  return lastReport;
}

/** The first line of an error (require's errors go on with a require stack). */
function message(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

// require() and not a bare process.dlopen: Node caches the module per process, so the addon's init runs once even
// where modules are evaluated again (jest does that per test file). The addon is linked with -z now, so a libtorch
// it does not fit fails here rather than at the first call.
function requireAddon(file: string): unknown {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  return require(file);
}

// npm >= 11.19 skips a dependency's install script unless allowed, so the fix names the hook itself.
const buildFix = (root: string) =>
  `build from source: node ${path.join(root, 'scripts', 'install.js')} (the install hook; ATMAN_FORCE_BUILD=1 rebuilds when a binary already loads)`;

function noLibtorchCause(steps: string[]): LoadCause {
  return {
    what: `no libtorch found (${steps.join('; ')})`,
    fix:
      'install one: Debian/Ubuntu CPU: apt-get install libtorch-dev; CUDA: pip install torch (python3 must find it); ' +
      'or an unpacked libtorch: export LIBTORCH=/path/to/libtorch (the folder with lib/)',
  };
}

export function loadNativeAddon<T = unknown>(opts: LoadOptions): { addon: T; report: LoadReport } {
  const env = opts.env ?? process.env;
  const root = path.resolve(opts.root);
  const platform = platformDir(opts.platform, opts.arch);
  const search = discoverLibtorch({ ...opts.discover, env });
  const report: LoadReport = {
    platform,
    packageRoot: root,
    libtorch: search.found,
    libtorchSearch: search.steps,
    candidates: [],
    chosen: null,
    preloaded: [],
    warnings: [],
  };
  lastReport = report;
  const causes: LoadCause[] = [];
  let addon: unknown = null;

  const local = path.join(root, LOCAL_BUILD);
  const hasLocal = fs.existsSync(local);
  if (hasLocal && env.ATMAN_SKIP_LOCAL_BUILD === '1')
    report.candidates.push({ file: local, kind: 'local build', outcome: 'not tried', reason: 'ATMAN_SKIP_LOCAL_BUILD=1' });
  else if (hasLocal) {
    try {
      addon = requireAddon(local);
      report.candidates.push({ file: local, kind: 'local build', outcome: 'loaded', reason: 'a local build wins over prebuilds' });
      report.chosen = {
        file: local,
        kind: 'local build',
        why: 'a local source build (build/Release wins over prebuilds); it uses the libtorch it was built against (its RUNPATH)',
      };
    } catch (e) {
      report.candidates.push({ file: local, kind: 'local build', outcome: 'failed', reason: message(e) });
      causes.push({ what: `the local build ${local} does not load: ${message(e)}`, fix: `${buildFix(root)}, or delete build/ to use a prebuild` });
    }
  }

  if (!addon) {
    const dir = path.join(root, 'prebuilds', platform);
    const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.node')).sort().map((f) => path.join(dir, f)) : [];
    if (!files.length)
      causes.push({ what: `no prebuilt addon for ${platform} (${dir} has none)`, fix: `${buildFix(root)}; prebuilds exist for linux-x64 only` });
    if (!search.found) {
      causes.push(noLibtorchCause(search.steps));
      for (const file of files) report.candidates.push({ file, kind: 'prebuild', outcome: 'not tried', reason: 'no libtorch found' });
    } else {
      const lt = search.found;
      const selection = selectPrebuilds(lt, files.map((file) => ({ file, needed: readElfDynamic(file)?.needed ?? null })));
      for (const r of selection.rejected) {
        report.candidates.push({ file: r.file, kind: 'prebuild', outcome: 'rejected', reason: r.reason });
        causes.push({ what: `${path.relative(root, r.file)}: ${r.reason}`, fix: r.fix });
      }
      for (const u of selection.usable) {
        if (addon) {
          report.candidates.push({ file: u.file, kind: 'prebuild', outcome: 'not tried', reason: 'a better match loaded' });
          continue;
        }
        try {
          report.preloaded = preloadLibraries(lt.libDir, preloadOrder(lt.libraries, u.needed));
          addon = requireAddon(u.file);
          report.candidates.push({ file: u.file, kind: 'prebuild', outcome: 'loaded', reason: u.why });
          report.chosen = { file: u.file, kind: 'prebuild', why: `${u.why} (found by ${lt.source})` };
        } catch (e) {
          report.candidates.push({ file: u.file, kind: 'prebuild', outcome: 'failed', reason: message(e) });
          causes.push({
            what: `${path.relative(root, u.file)} fits by its name but does not load against ${lt.libDir}: ${message(e)}`,
            fix: `the libtorch found differs from the one the prebuild was made with (an undefined symbol means another build of libtorch ${lt.torch.major}.${lt.torch.minor}); ${buildFix(root)}`,
          });
        }
      }
    }
  }

  if (!addon) {
    if (!report.candidates.some((c) => c.kind === 'local build' && c.outcome === 'failed')) {
      const none = hasLocal ? `the local build ${LOCAL_BUILD} was skipped (ATMAN_SKIP_LOCAL_BUILD=1)` : `no local build (${LOCAL_BUILD})`;
      const tools = findBuildTools(env);
      const lacking = [tools.cmake ? null : 'cmake', tools.cxx ? null : 'a C++ compiler (c++/g++)'].filter(Boolean);
      causes.push(
        lacking.length
          ? { what: `${none}, and this machine cannot build one: ${lacking.join(' and ')} not on PATH`, fix: `apt-get install cmake g++ (and a libtorch), then ${buildFix(root)}` }
          : { what: none, fix: `${buildFix(root)} (cmake and ${tools.cxx} are there; it needs a libtorch with headers)` },
      );
    }
    report.error = formatLoadError(platform, causes);
    throw new Error(report.error);
  }

  const info = (addon as { buildInfo?: () => { variant?: string } }).buildInfo?.();
  if (info?.variant === 'cpu' && search.found?.cuda) {
    const w =
      `a CUDA libtorch was found (${search.found.version} in ${search.found.libDir}, by ${search.found.source}) but the CPU build ` +
      `${report.chosen!.file} is loaded: everything runs on the CPU. ` +
      (report.chosen!.kind === 'local build'
        ? `Rebuild against the CUDA libtorch: ATMAN_FORCE_BUILD=1 node ${path.join(root, 'scripts', 'install.js')}.`
        : `No CUDA prebuild fits it: install the torch a CUDA prebuild is for (README, "Install and prebuilt binaries"), or build from source: ATMAN_FORCE_BUILD=1 node ${path.join(root, 'scripts', 'install.js')}.`);
    report.warnings.push(w);
    if (!warnedCpuOnCuda) {
      warnedCpuOnCuda = true;
      (opts.warn ?? ((m: string) => process.stderr.write(`\n*** atman-native WARNING: ${m}\n\n`)))(w);
    }
  }
  return { addon: addon as T, report };
}
