/**
 * The long fuzz run: N frames (default 100 000) of generated and mutated input
 * against every decoder, the simulated ring and directory handlers, and raw
 * libp2p streams. Writes bench/results/fuzz.json; exits 1 on any crash.
 *
 * `npm run fuzz -- [--frames N] [--seed S] [--out FILE]`
 *
 * The code lives in test/fuzz/long-run.ts, where tsc and the linter see it.
 */
import { runFuzz } from '../test/fuzz/long-run.ts'

process.exitCode = await runFuzz(process.argv.slice(2))
