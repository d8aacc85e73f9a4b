#!/usr/bin/env node
// The simulator's command line: `npm run sim -- --nodes 1000 --duration 30m …` (see `--help`)
// first: on Node < 22 this exits with the version needed, before the simulator loads
import '../src/cli/require-node-cli.ts'
import { runCli } from './cli-main.ts'
import { simulate } from './simulation.ts'

process.exitCode = await runCli(process.argv.slice(2), simulate)
