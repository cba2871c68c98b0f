/** @type {import('jest').Config} */
// GPU suite: `npm run test:gpu` on a CUDA host. Each file skips itself when CUDA is absent.
const base = require('./jest.config.js');
module.exports = { ...base, roots: ['<rootDir>/test/gpu'], testPathIgnorePatterns: ['/node_modules/'] };
