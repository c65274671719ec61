#!/usr/bin/env node
// The `chatd` executable: hands argv to runCli and exits with its code. Nothing else lives here.
import { runCli } from '../cli/run-cli.js';

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
