/**
 * The browser suite (`npm run test:browser`): Playwright (playwright-core) driving Debian's
 * Chromium against the built sample app. Same ts-jest ESM set-up as jest.config.js.
 */
import base from './jest.config.js';

export default {
  ...base,
  testMatch: ['<rootDir>/test/browser/**/*.spec.ts'],
  testPathIgnorePatterns: ['/node_modules/'],
  testTimeout: 90000,
};
