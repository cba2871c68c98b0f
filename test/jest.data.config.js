// jest.config.js plus what the data tests need: hyparquet (and hyparquet-writer) are ES modules only, which jest's
// CommonJS module system cannot load, so ts-jest transpiles them to CommonJS.
// Run: node --expose-gc ./node_modules/jest/bin/jest.js -c test/jest.data.config.js test/data_readers.test.ts
const base = require('../jest.config.js');

module.exports = {
  ...base,
  rootDir: '..',
  transform: {
    ...base.transform,
    '^.+/node_modules/hyparquet(-writer)?/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(hyparquet|hyparquet-writer)/)'],
};
