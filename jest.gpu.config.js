/** @type {import('jest').Config} */
// GPU suite: `npm run test:gpu` on a CUDA host. Each file skips itself when CUDA is absent.
// Kernel outputs are NaN-poisoned before each launch so tests catch unwritten elements (native reads the variable).
process.env.ATMAN_ATTENTION_POISON = '1';
const base = require('./jest.config.js');
module.exports = { ...base, roots: ['<rootDir>/test/gpu'], testPathIgnorePatterns: ['/node_modules/'] };
