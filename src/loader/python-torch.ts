// Where the `torch` package of python3 lives, asked once with one short-lived python3 process. The script finds the
// package without importing it (importing torch loads all of libtorch: seconds for a CUDA build); only when
// TorchConfig.cmake does not say the C++ ABI does it import torch to read torch._C._GLIBCXX_USE_CXX11_ABI.
import { spawnSync } from 'child_process';

const SCRIPT = `
import importlib.util, json, os, re
r = {}
try:
    s = importlib.util.find_spec('torch')
except Exception as e:
    s = None
    r['error'] = repr(e)
if s is not None and s.origin:
    d = os.path.dirname(s.origin)
    r['dir'] = d
    try:
        with open(os.path.join(d, 'share', 'cmake', 'Torch', 'TorchConfig.cmake')) as f:
            m = re.search(r'_GLIBCXX_USE_CXX11_ABI=([01])', f.read())
    except OSError:
        m = None
    if m:
        r['abi'] = m.group(1) == '1'
    else:
        try:
            import torch
            r['abi'] = bool(torch._C._GLIBCXX_USE_CXX11_ABI)
            r['version'] = torch.__version__
            r['cuda'] = torch.version.cuda
        except Exception as e:
            r['error'] = repr(e)
print(json.dumps(r))
`;

export interface PythonTorch {
  /** The torch package directory (its lib/ holds the libraries). */
  dir: string;
  cxx11Abi: boolean | null;
  /** Only set when torch had to be imported. */
  version?: string;
  cuda?: string | null;
}

export type PythonTorchAnswer = { torch: PythonTorch } | { missing: string };

export function askPythonTorch(python = 'python3', timeoutMs = 20000, env: NodeJS.ProcessEnv = process.env): PythonTorchAnswer {
  const r = spawnSync(python, ['-c', SCRIPT], { encoding: 'utf8', timeout: timeoutMs, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: `no ${python} on PATH` };
    if (code === 'ETIMEDOUT') return { missing: `${python} did not answer within ${timeoutMs / 1000} s` };
    return { missing: `${python} could not be run: ${r.error.message}` };
  }
  const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
  let answer: { dir?: string; abi?: boolean; version?: string; cuda?: string | null; error?: string };
  try {
    answer = JSON.parse(line);
  } catch {
    return { missing: `${python} failed (exit ${r.status}): ${(r.stderr ?? '').trim().split('\n').pop() ?? ''}` };
  }
  if (!answer.dir) return { missing: `${python} has no torch module${answer.error ? ` (${answer.error})` : ''}` };
  const torch: PythonTorch = { dir: answer.dir, cxx11Abi: typeof answer.abi === 'boolean' ? answer.abi : null };
  if (answer.version) torch.version = answer.version;
  if (answer.cuda !== undefined) torch.cuda = answer.cuda;
  return { torch };
}
