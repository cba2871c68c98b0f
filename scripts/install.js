#!/usr/bin/env node
// npm install hook: use a prebuilt addon when one loads, else build from source with cmake-js.
// The build log goes to build/install.log; on failure only the cause and its fix are printed.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');

function prebuiltLoads() {
  try {
    require('node-gyp-build')(root);
    return true;
  } catch {
    return false;
  }
}

if (process.env.ATMAN_FORCE_BUILD !== '1' && prebuiltLoads()) {
  console.log('atman-native: using the existing native addon (set ATMAN_FORCE_BUILD=1 to rebuild)');
  process.exit(0);
}

console.log('atman-native: no prebuilt addon fits this machine; building from source with cmake-js (a few minutes)...');
fs.mkdirSync(path.join(root, 'build'), { recursive: true });
const logFile = path.join(root, 'build', 'install.log');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, 'compile'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
const log = `${result.stdout || ''}${result.stderr || ''}`;
fs.writeFileSync(logFile, log);

if (result.status === 0) {
  console.log('atman-native: native addon built (log: build/install.log)');
  process.exit(0);
}

const ourMessage = /\natman-native: [\s\S]*?(?=\n\s*Call Stack|\n-- Configuring incomplete|$)/.exec(log);
if (ourMessage) {
  console.error(ourMessage[0].replace(/\n {2}/g, '\n').trim());
} else if (result.error && result.error.code === 'ENOENT') {
  console.error('atman-native: cmake was not found. Install it (apt-get install cmake, or pip install cmake) and reinstall.');
} else if (/No CMAKE_CXX_COMPILER could be found|is not a full path to an existing compiler/.test(log)) {
  console.error('atman-native: no C++ compiler found. Install one (apt-get install g++) and reinstall.');
} else {
  console.error('atman-native: building the native addon failed. The last lines of build/install.log:');
  console.error(log.split('\n').filter((l) => /error|Error/.test(l)).slice(-15).join('\n') || log.slice(-3000));
}
console.error(`Full log: ${logFile}`);
process.exit(1);
