/**
 * The simulator's output files, checked before a run that may take hours
 * rather than after it.
 */
import { constants } from 'node:fs'
import { access, mkdir, open, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { SimOptionsError } from './cli-options.ts'

/**
 * Makes sure the simulator can write `path` (the value of `flag`), so a mistake shows before a run that may
 * take hours rather than after it: the parent directory exists or can be made, and a probe file can be
 * created in it (which also catches read-only file systems and pseudo file systems such as /proc, where
 * permission bits say nothing); an existing `path` must be a writable regular file (a FIFO would block
 * the write forever, a directory cannot be written).
 *
 * @throws {SimOptionsError} naming the flag, the path and what is wrong
 */
export async function checkOutputPath (flag: string, path: string): Promise<void> {
  const fail = (why: string): SimOptionsError => new SimOptionsError(`${flag} ${path}: ${why}`, flag, path)
  const target = resolve(path)
  const existing = await stat(target).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') {
      return undefined
    }
    throw fail(`cannot use it (${err.code ?? err.message})`)
  })
  if (existing?.isDirectory() === true) {
    throw fail('is a directory; give a file name')
  }
  if (existing != null && !existing.isFile()) {
    throw fail('exists and is not a regular file')
  }
  const dir = dirname(target)
  try {
    await makeDirectories(dir)
  } catch (err: any) {
    throw fail(`cannot create its directory ${err.path ?? dir} (${err.code ?? err.message})`)
  }
  if (existing != null) {
    await access(target, constants.W_OK).catch((err: NodeJS.ErrnoException) => {
      throw fail(`is not writable (${err.code ?? err.message})`)
    })
  }
  const probe = join(dir, `.${basename(target)}.${process.pid}.probe`)
  try {
    const handle = await open(probe, 'wx')
    await handle.close()
    await unlink(probe)
  } catch (err: any) {
    throw fail(`cannot write in ${dir} (${err.code ?? err.message})`)
  }
}

/**
 * `mkdir -p`, one level at a time. Node's `mkdir(path, { recursive: true })` never settles on some paths
 * (`/proc/nope`: the kernel answers ENOENT for a parent that exists, and Node retries forever), which
 * hung the simulator after its run; here every step is one plain `mkdir` that fails at once.
 */
export async function makeDirectories (dir: string): Promise<void> {
  const missing: string[] = []
  let current = resolve(dir)
  for (;;) {
    const info = await stat(current).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        return undefined
      }
      throw err
    })
    if (info != null) {
      if (!info.isDirectory()) {
        throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR', path: current })
      }
      break
    }
    missing.unshift(current)
    const parent = dirname(current)
    if (parent === current) {
      break
    }
    current = parent
  }
  for (const level of missing) {
    await mkdir(level).catch((err: NodeJS.ErrnoException) => {
      // made meanwhile by someone else: fine
      if (err.code !== 'EEXIST') {
        throw err
      }
    })
  }
}
