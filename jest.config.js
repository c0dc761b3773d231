/** Jest 30 + ts-jest in ESM mode (run with NODE_OPTIONS=--experimental-vm-modules, see package.json). */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }],
  },
  testMatch: ['<rootDir>/test/**/*.spec.ts'],
  // test/package (the packed tarball, the consumer matrix) runs on its own: `npm run test:package`.
  testPathIgnorePatterns: ['/node_modules/', '/test/browser/', '/test/package/'],
  testTimeout: 30000,
  reporters: ['default', '<rootDir>/test/summary-reporter.cjs'],
  // Two workers for two cores; a worker is recycled past 1 GB (ESM module registries are not freed between files).
  maxWorkers: 2,
  workerIdleMemoryLimit: '1GB',
  detectOpenHandles: false,
};
