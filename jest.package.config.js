/**
 * The package tests (`npm run test:package`): the packed tarball and the consumer matrix
 * (test/package). They run npm, tsc and apps in child processes, so they run on their own, in band,
 * rather than inside `npm test`; `.ci/run` runs them after the main suite.
 */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/test/package/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 60000,
};
