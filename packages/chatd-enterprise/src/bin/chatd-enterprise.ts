#!/usr/bin/env node
// The `chatd-enterprise` executable: hands argv to runEnterpriseCli and exits with its code. Nothing else lives here.
import { runEnterpriseCli } from '../cli/run-enterprise-cli.js';

const code = await runEnterpriseCli(process.argv.slice(2), {
  env: process.env,
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
process.exitCode = code;
