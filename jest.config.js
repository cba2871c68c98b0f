/** @type {import('jest').Config} */
// CPU suite (CI). GPU tests live in test/gpu and run with jest.gpu.config.js on a CUDA host.
module.exports = {
  preset: 'ts-jest',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/gpu/'],
  testTimeout: 120000,
  setupFiles: ['<rootDir>/test/setup-realm.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: 'test/tsconfig.json' }],
    // hyparquet ships only as an ES module, which jest's module system cannot load untransformed.
    '^.+/node_modules/hyparquet(-writer)?/.+\\.js$': ['ts-jest', { tsconfig: { allowJs: true }, isolatedModules: true }],
  },
  transformIgnorePatterns: ['/node_modules/(?!(hyparquet|hyparquet-writer)/)'],
};
