#!/usr/bin/env node
// The simulator's command line: `npm run sim -- --nodes 1000 --duration 30m …` (see `--help`)
import { runCli } from './cli-main.ts'
import { simulate } from './simulation.ts'

process.exitCode = await runCli(process.argv.slice(2), simulate)
