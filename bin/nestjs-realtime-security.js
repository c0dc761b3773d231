#!/usr/bin/env node
// The package's command line (`npx nestjs-realtime-security audit --url ...`); the code lives in
// lib/cli and is compiled to dist/cli by `npm run build`.
import { runCli } from '../dist/cli/main.js';

try {
  process.exitCode = await runCli(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`nestjs-realtime-security: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}
