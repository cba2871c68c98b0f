// The README's quick start is two set-up commands, and the first one runs both where sudo exists and as root where it
// does not (most containers): run it with stub apt-get/npm/npx (and sudo) that only record how they were called.
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const readme = fs.readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
const quickStart = readme.split('## Quick start')[1].split('```bash\n')[1].split('```')[0].trim().split('\n');

function runWithStubs(withSudo: boolean): string[] {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'atman-quickstart-'));
  const log = path.join(bin, 'calls.log');
  const stub = (name: string, body: string) => {
    fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`);
    fs.chmodSync(path.join(bin, name), 0o755);
  };
  for (const name of ['apt-get', 'npm', 'npx']) stub(name, `echo "${name} $*" >> ${log}`);
  if (withSudo) stub('sudo', `echo "sudo $1" >> ${log}\nexec "$@"`);
  // PATH holds only the stubs: a real sudo (or apt-get) on this machine cannot be reached.
  execFileSync('/bin/sh', ['-c', quickStart[0]], { env: { PATH: bin } });
  return fs.readFileSync(log, 'utf8').trim().split('\n');
}

test('the quick start is exactly two commands, the first without a bare sudo', () => {
  expect(quickStart).toHaveLength(2);
  expect(quickStart[1]).toBe('npm test');
  expect(quickStart[0]).not.toMatch(/(^|&& )sudo /);
});

test('the first command installs with apt-get as root when sudo is missing', () => {
  const calls = runWithStubs(false);
  expect(calls[0]).toBe('apt-get update');
  expect(calls[1]).toMatch(/^apt-get install -y libtorch-dev /);
  expect(calls.slice(2)).toEqual(['npm ci', 'npx atman-native train']);
});

test('the first command uses sudo where it is installed', () => {
  const calls = runWithStubs(true);
  expect(calls.slice(0, 4)).toEqual(['sudo apt-get', 'apt-get update', 'sudo apt-get', expect.stringMatching(/^apt-get install -y /)]);
});
