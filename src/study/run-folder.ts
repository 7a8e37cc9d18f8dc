import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statfsSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { onInterrupt } from '../core/interrupt.js';
import { fileSha256, listFiles, MANIFEST, MANIFEST_FORMAT, type Manifest, verifyRunFolder } from '../core/run-manifest.js';
import { VERSION } from '../version.js';

/**
 * A run folder is whole or absent. A command writes its run into a staging folder beside --out
 * (`.<name>.xbar-staging`), writes a manifest of every file with its checksum last, and then
 * moves the staging folder into place in one step: readers see the old run or the new one, never
 * a mix. docs/decisions.md says why this design and not a manifest alone.
 *
 * - A re-run with the same key (the command and every option that changes a file) resumes the
 *   interrupted staging folder; with another key the old staging folder becomes a cache that
 *   content-keyed steps may still reuse, and the new run starts empty: it never mixes.
 * - Steps (`lookup`/`store`, `lookupDir`/`storeDir`) are keyed by the checksums of their inputs and
 *   every option that changes them; they are looked up in the staging folder, then the complete run
 *   at --out, then the cache left by an interrupted run of another key, and copied into the staging
 *   folder. A resumable run starts with every step record of those folders, so none is lost.
 * - A lock file beside --out refuses a second writer with one line naming its process; the lock of
 *   a process that is gone is taken over.
 */

const STEPS = 'steps';
/** writeFileAtomic's temporary sibling: `<name>.tmp-<pid>-<hex>`. */
const TEMPORARY = /\.tmp-\d+-[0-9a-f]+$/;

export interface RunFolderOptions {
  /** The folder the run ends in (--out). */
  out: string;
  /** The command, e.g. 'simulate': recorded in the manifest and the lock. */
  command: string;
  /** What makes two runs the same run: the options (and input checksums) that change its files. */
  key: unknown;
  /** Paths the run reads: --out must not be one of them or hold one, since the run replaces it. */
  inputs?: (string | undefined)[];
  /**
   * The run caches its steps, so an interrupted run of the same key goes on from its staging
   * folder; otherwise every run starts from an empty one.
   */
  resumable?: boolean;
  /**
   * Other run folders whose steps this run may reuse, looked up after its own (e.g. correctnet's
   * --reuse: a prepared run whose shared steps every shard takes instead of computing them).
   * Each must be a whole run folder (its manifest is checked); they are only read.
   */
  reuse?: string[];
}

export const keyOf = (key: unknown): string =>
  createHash('sha256')
    .update(JSON.stringify(key) ?? 'undefined')
    .digest('hex');

/**
 * The key recorded in a run's manifest: the command and its options, without --out (where a run
 * ends is not what it is: the same run into two folders has one key).
 */
export function runKey(command: string, key: unknown): string {
  const isRecord = typeof key === 'object' && key !== null && !Array.isArray(key);
  const { out: _out, ...rest } = isRecord ? (key as Record<string, unknown>) : { out: undefined };
  return keyOf({ command, key: isRecord ? rest : key });
}

const sibling = (out: string, what: string) => join(dirname(out), `.${basename(out)}.xbar-${what}`);

/** Linux file systems a run folder must never go to (Node's recursive mkdir can spin on them). */
const SPECIAL_FS = new Set([
  0x9fa0, // proc
  0x62656572, // sysfs
  0x27e0eb, // cgroup
  0x63677270, // cgroup2
  0x64626720, // debugfs
  0x74726163, // tracefs
  0x73636673, // securityfs
  0x1cd1, // devpts
  0xcafe4a11, // bpf
  0x6165676c, // pstore
  0x62656570, // configfs
  0x65735543, // fusectl
  0x19800202, // mqueue
]);

/**
 * Checks --out before any work: not a file, not on a special file system (/proc, /sys, /dev),
 * writable, and not one of the run's inputs or a folder holding one. Returns the absolute path.
 */
export function checkOut(out: string, inputs: (string | undefined)[] = []): string {
  if (!out.trim()) throw new XbarError('--out is empty: name a folder for the results');
  const abs = resolve(out);
  let existing = abs;
  while (!existsSync(existing)) existing = dirname(existing);
  const real = realpathSync(existing);
  const st = statSync(existing);
  if (existing === abs && !st.isDirectory()) throw new XbarError(`--out ${out} is a file, not a folder: choose another path`);
  if (existing !== abs && !st.isDirectory())
    throw new XbarError(`--out ${out}: ${existing} is a file, so no folder can be made under it: choose another path`);
  const special = ['/proc', '/sys', '/dev'].find((p) => real === p || real.startsWith(`${p}/`));
  let fsType = 0;
  try {
    fsType = statfsSync(existing).type;
  } catch {
    // statfs is not available everywhere: the path test above still holds.
  }
  if (special || SPECIAL_FS.has(fsType))
    throw new XbarError(
      `--out ${out} is on a special file system (${special ?? `type 0x${fsType.toString(16)}`}): choose a folder on a disk`,
    );
  // The run is staged beside --out and moved into place: the folder holding --out must be writable.
  const parentProbe = existing === abs ? dirname(abs) : existing;
  try {
    accessSync(existsSync(parentProbe) ? parentProbe : existing, constants.W_OK);
    if (existing === abs) accessSync(abs, constants.W_OK);
  } catch {
    throw new XbarError(`--out ${out} is not writable (${existing === abs ? dirname(abs) : existing}): choose a folder you can write to`);
  }
  for (const input of inputs) {
    if (!input || !existsSync(input)) continue;
    const inReal = realpathSync(input);
    const outReal = existing === abs ? real : abs;
    if (inReal === outReal || inReal.startsWith(`${outReal}${sep}`))
      throw new XbarError(`--out ${out} holds the input ${input}, which the run would replace: choose another --out`);
  }
  return abs;
}

/** True when `dir` looks like an xbar output: a manifest, or a file of an xbar format at its top. */
function isXbarOutput(dir: string): boolean {
  const names = readdirSync(dir);
  if (!names.length || names.includes(MANIFEST)) return true;
  for (const n of ['results.json', 'model.json', 'corrector.json']) {
    if (!names.includes(n)) continue;
    try {
      const j = JSON.parse(readFileSync(join(dir, n), 'utf8'));
      if (typeof j?.format === 'string' && j.format.startsWith('xbar')) return true;
    } catch {
      // not JSON: not ours
    }
  }
  return false;
}

interface LockInfo {
  pid: number;
  command: string;
  startedAt: string;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/** Takes the lock beside --out, or refuses with one line naming the process that holds it. */
function acquireLock(path: string, out: string, command: string): void {
  const info: LockInfo = { pid: process.pid, command, startedAt: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, JSON.stringify(info), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let held: LockInfo | null = null;
    try {
      held = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      held = null; // half-written by a writer that died at once: stale
    }
    if (held && held.pid !== process.pid && alive(held.pid))
      throw new XbarError(
        `--out ${out} is being written by process ${held.pid} (xbar ${held.command}, started ${held.startedAt}): wait for it to end, or choose another --out`,
      );
    // The writer is gone: take its lock over.
    rmSync(path, { force: true });
  }
  throw new XbarError(`--out ${out}: could not take the lock ${path}: another xbar is starting on it; try again`);
}

/** Puts back a run folder that an interrupted move left aside, and removes one the move finished with. */
function recover(out: string): void {
  const old = sibling(out, 'old');
  if (!existsSync(old)) return;
  if (!existsSync(out)) renameSync(old, out);
  else rmSync(old, { recursive: true, force: true });
}

/** Copies a file for the step cache: a hard link when it can (files are only ever replaced, never rewritten). */
function copyInto(src: string, dst: string): void {
  mkdirSync(dirname(dst), { recursive: true });
  rmSync(dst, { force: true });
  try {
    linkSync(src, dst);
  } catch {
    copyFileSync(src, dst);
  }
}

/** A folder whose steps a run reuses: a whole run folder (manifest present and every file as it lists). */
function checkReusable(dir: string): void {
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new XbarError(`${dir} (steps to reuse) is not a folder: give a finished run's --out`);
  if (!existsSync(join(dir, MANIFEST)))
    throw new XbarError(`${dir} (steps to reuse) is not a finished run (no ${MANIFEST}): let the run that writes it end first`);
  verifyRunFolder(dir, 0);
}

export class RunFolder {
  /** The staging folder: every file of the run is written under it. */
  readonly dir: string;
  readonly out: string;
  readonly key: string;
  readonly resumed: boolean;
  private readonly lock: string;
  private readonly cache: string;
  private done = false;

  constructor(private readonly o: RunFolderOptions) {
    this.out = checkOut(o.out, o.inputs ?? []);
    mkdirSync(dirname(this.out), { recursive: true });
    this.lock = sibling(this.out, 'lock');
    acquireLock(this.lock, o.out, o.command);
    try {
      recover(this.out);
      if (existsSync(this.out) && !isXbarOutput(this.out))
        throw new XbarError(
          `--out ${o.out} holds files xbar did not write (no ${MANIFEST} or xbar result in it), which the run would replace: choose an empty or new folder`,
        );
      this.key = runKey(o.command, o.key);
      this.dir = sibling(this.out, 'staging');
      this.cache = sibling(this.out, 'cache');
      let resumed = false;
      if (existsSync(this.dir)) {
        let stagedKey: string | undefined;
        try {
          stagedKey = JSON.parse(readFileSync(join(this.dir, '.run.json'), 'utf8')).key;
        } catch {
          stagedKey = undefined;
        }
        if (stagedKey === this.key && o.resumable) resumed = true;
        else if (!o.resumable) rmSync(this.dir, { recursive: true, force: true });
        else {
          // Another run's unfinished work: its content-keyed steps may still serve this run.
          rmSync(this.cache, { recursive: true, force: true });
          renameSync(this.dir, this.cache);
        }
      }
      this.resumed = resumed;
      mkdirSync(this.dir, { recursive: true });
      writeFileAtomic(join(this.dir, '.run.json'), JSON.stringify({ key: this.key, command: o.command }));
      if (o.resumable) this.carrySteps();
      for (const dir of o.reuse ?? []) checkReusable(dir);
    } catch (e) {
      rmSync(this.lock, { force: true });
      throw e;
    }
  }

  /**
   * Carries the step records of the complete run at --out and of an interrupted run's cache into
   * the staging folder (hard links; a name the staging folder already holds is kept, the complete
   * run before the cache), so the new run keeps every step an earlier run made, not only those it
   * looks up: a run with other options, then one with the first options again, finds the first
   * run's steps. Harmless, since every record is checked against its key when looked up; the
   * folders a `storeDir` record names are carried only when looked up (`lookupDir`).
   */
  private carrySteps(): void {
    for (const src of [this.out, this.cache]) {
      const steps = join(src, STEPS);
      if (!existsSync(steps) || !statSync(steps).isDirectory()) continue;
      for (const f of listFiles(steps)) {
        if (TEMPORARY.test(f) || existsSync(this.path(STEPS, f))) continue;
        copyInto(join(steps, f), this.path(STEPS, f));
      }
    }
  }

  /** A path inside the staging folder. */
  path(...parts: string[]): string {
    return join(this.dir, ...parts);
  }

  /** Where a step may have been kept: this run's staging, the complete run at --out, an interrupted run's cache, the folders it reuses. */
  private sources(): string[] {
    return [this.dir, this.out, this.cache, ...(this.o.reuse ?? [])].filter((d) => existsSync(d));
  }

  /** A cached step's value, if a source holds it with the same key; copied into the staging folder. */
  lookup<T>(name: string, key: unknown): T | undefined {
    const k = JSON.stringify(key);
    for (const src of this.sources()) {
      const path = join(src, STEPS, `${name}.json`);
      if (!existsSync(path)) continue;
      try {
        const c = JSON.parse(readFileSync(path, 'utf8')) as { key: string; value: T };
        if (c.key !== k) continue;
        if (src !== this.dir) copyInto(path, this.path(STEPS, `${name}.json`));
        return c.value;
      } catch {
        // a damaged cache file is no cache
      }
    }
    return undefined;
  }

  /** Records a step's value under its key in the staging folder. */
  store(name: string, key: unknown, value: unknown): void {
    writeFileAtomic(this.path(STEPS, `${name}.json`), `${JSON.stringify({ key: JSON.stringify(key), value }, null, 1)}\n`);
  }

  /**
   * A folder a step wrote (a trained network), reused when a source recorded it with the same key
   * and still holds the files it recorded (their checksums); copied into the staging folder.
   * Returns the staging path when reused, undefined when the step must run (into `this.path(rel)`,
   * then `storeDir`).
   */
  lookupDir(rel: string, key: unknown): string | undefined {
    const name = `dir-${rel.replace(/[^\w.-]+/g, '_')}`;
    const k = JSON.stringify(key);
    for (const src of this.sources()) {
      const rec = join(src, STEPS, `${name}.json`);
      if (!existsSync(rec)) continue;
      try {
        const c = JSON.parse(readFileSync(rec, 'utf8')) as { key: string; value: Record<string, string> };
        if (c.key !== k) continue;
        const files = Object.entries(c.value);
        if (!files.every(([f, sum]) => existsSync(join(src, rel, f)) && fileSha256(join(src, rel, f)) === sum)) continue;
        if (src !== this.dir) {
          rmSync(this.path(rel), { recursive: true, force: true });
          for (const [f] of files) copyInto(join(src, rel, f), this.path(rel, f));
          copyInto(rec, this.path(STEPS, `${name}.json`));
        }
        return this.path(rel);
      } catch {
        // a damaged record is no record
      }
    }
    return undefined;
  }

  /** Records the files of the folder `rel` a step just wrote, under its key. */
  storeDir(rel: string, key: unknown): void {
    const name = `dir-${rel.replace(/[^\w.-]+/g, '_')}`;
    const files = Object.fromEntries(listFiles(this.path(rel)).map((f) => [f, fileSha256(this.path(rel, f))]));
    this.store(name, key, files);
  }

  /** Writes a file of the run (atomically) under the staging folder. */
  write(rel: string, data: string | Uint8Array): void {
    writeFileAtomic(this.path(rel), data);
  }

  /**
   * Ends the run: the manifest (every file and its checksum) is written last into the staging
   * folder, which then replaces --out in one move (the old run is moved aside first and removed
   * after: an interruption in between is put right by the next run or reader).
   */
  commit(): Manifest {
    if (this.done) throw new Error('run folder already closed');
    rmSync(this.path('.run.json'), { force: true });
    // Half-written temporary files of a killed earlier attempt (writeFileAtomic's) are no part of the run.
    for (const f of listFiles(this.dir)) if (TEMPORARY.test(f)) rmSync(this.path(f));
    const files: Record<string, string> = {};
    for (const f of listFiles(this.dir)) if (f !== MANIFEST) files[f] = fileSha256(join(this.dir, f));
    const manifest: Manifest = {
      format: MANIFEST_FORMAT,
      version: 1,
      xbarVersion: VERSION,
      command: this.o.command,
      key: this.key,
      createdAt: new Date().toISOString(),
      files,
    };
    writeFileAtomic(this.path(MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    const old = sibling(this.out, 'old');
    if (existsSync(this.out)) renameSync(this.out, old);
    renameSync(this.dir, this.out);
    rmSync(old, { recursive: true, force: true });
    rmSync(this.cache, { recursive: true, force: true });
    this.release();
    return manifest;
  }

  /**
   * Ends a run that failed or was stopped: --out keeps the old run. The staging folder is kept
   * when `keep` (a resumable run: the next run with the same key goes on from it), else removed.
   */
  abandon(keep = Boolean(this.o.resumable)): void {
    if (this.done) return;
    // Nothing but the run's own record is no work worth resuming.
    if (!keep || listFiles(this.dir).every((f) => f === '.run.json')) rmSync(this.dir, { recursive: true, force: true });
    this.release();
  }

  private release(): void {
    this.done = true;
    rmSync(this.lock, { force: true });
  }
}

/**
 * Runs `work` in a run folder: committed when it returns, abandoned when it throws (the staging
 * folder kept for a resumable run). With no --out, `work` gets no folder. No signal handler is
 * installed: Node runs one only between tasks, so it would defer Ctrl-C until a long synchronous
 * loop (training) ends; a killed run needs none to stay whole (it leaves only its staging folder,
 * which the next run into the same --out resumes or replaces, and a lock the next run takes over).
 */
export async function inRunFolder<T>(
  o: Omit<RunFolderOptions, 'out'> & { out?: string },
  work: (run: RunFolder | null) => Promise<T> | T,
): Promise<T> {
  if (!o.out) return work(null);
  const run = new RunFolder({ ...o, out: o.out });
  // Passive: removes the staging folder if a wait that handles signals (ngspice) is interrupted.
  const forget = onInterrupt(() => run.abandon(), { passive: true });
  try {
    const value = await work(run);
    run.commit();
    return value;
  } catch (e) {
    run.abandon();
    throw e;
  } finally {
    forget();
  }
}

/** The same, for synchronous work. */
export function inRunFolderSync<T>(o: Omit<RunFolderOptions, 'out'> & { out?: string }, work: (run: RunFolder | null) => T): T {
  if (!o.out) return work(null);
  const run = new RunFolder({ ...o, out: o.out });
  try {
    const value = work(run);
    run.commit();
    return value;
  } catch (e) {
    run.abandon();
    throw e;
  }
}

/** The relative path of `path` inside `dir`, `/`-separated. */
export const relPath = (dir: string, path: string): string => relative(dir, path).split(sep).join('/');
