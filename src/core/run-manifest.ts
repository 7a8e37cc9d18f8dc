import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { XbarError } from './errors.js';

/**
 * The manifest of a run folder (src/study/run-folder.ts writes it last): every file of the run
 * with its checksum. Readers check it, so a folder whose files do not belong to one run is refused.
 */
export const MANIFEST = 'manifest.json';
export const MANIFEST_FORMAT = 'xbar-run-manifest';

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  version: 1;
  xbarVersion: string;
  command: string;
  /** sha256 of the run's key: the command and its options. */
  key: string;
  createdAt: string;
  /** Every file of the run but the manifest, by path relative to the folder (`/`-separated): sha256. */
  files: Record<string, string>;
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every file under `dir`, relative, `/`-separated, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const rel = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.isDirectory()) walk(join(d, e.name), rel);
      else out.push(rel);
    }
  };
  walk(dir, '');
  return out;
}

/**
 * The run folder a file belongs to (the nearest folder at most `depth` levels up holding a
 * manifest), checked: every file the manifest lists is there with its checksum, and no other file
 * is. Throws one line naming the first difference. A folder with no manifest (written by an xbar
 * before run folders) is not checked; returns whether a manifest was found.
 */
export function verifyRunFolder(path: string, depth = 2): boolean {
  let dir = resolve(path);
  if (existsSync(dir) && !statSync(dir).isDirectory()) dir = dirname(dir);
  for (let i = 0; i <= depth; i++) {
    if (existsSync(join(dir, MANIFEST))) {
      checkManifest(dir);
      return true;
    }
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return false;
}

function checkManifest(dir: string): void {
  const path = join(dir, MANIFEST);
  const refuse = (why: string): never => {
    throw new XbarError(`${dir}: its files do not belong to one run (${why}): re-run the command that wrote it into a new --out`);
  };
  let m: Manifest | undefined;
  try {
    m = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    m = undefined;
  }
  if (!m) throw refuse(`${MANIFEST} is damaged`);
  if (m?.format !== MANIFEST_FORMAT || typeof m.files !== 'object' || m.files === null) refuse(`${MANIFEST} is not a run manifest`);
  const present = new Set(listFiles(dir).filter((f) => f !== MANIFEST));
  for (const [f, sum] of Object.entries(m.files)) {
    if (!present.has(f)) refuse(`${f} is missing`);
    if (fileSha256(join(dir, f)) !== sum) refuse(`${f} changed after the run wrote it`);
    present.delete(f);
  }
  // Files the run did not write: left by another run, or added by hand.
  const extra = [...present].filter((f) => !/\.tmp-\d+-[0-9a-f]+$/.test(f));
  if (extra.length) refuse(`${extra[0]} is not one of the run's files`);
}
