import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { MANIFEST_FORMAT, verifyRunFolder } from '../core/run-manifest.js';
import { FAULT_MAP_FORMAT } from '../faults/render.js';
import { VERSION } from '../version.js';
import { kindOf, knownFormats } from './kinds/index.js';
import type { AnyKind, FaultMapFile, ResultInput } from './types.js';
import { isNum, isObj } from './util.js';

/** Reading result files from disk: every problem is one line naming the file and what to do. */

const WRITERS =
  'results.json of `xbar simulate --out`, or the result of `xbar correct`, `xbar correctnet`, `xbar spice compare` or `xbar cost --out`';

export type Loaded = { kind: AnyKind; input: ResultInput; notes: string[] } | { skipped: string; file: string };

/**
 * The result files the arguments name, each once: a folder and its results.json (or the same file
 * by two paths) are one run and get one section.
 */
export function resultFilesOf(paths: string[]): string[] {
  const seen = new Set<string>();
  return paths.flatMap(resultFiles).filter((f) => {
    const key = realpathSync(f);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/**
 * A kind's extract with every refusal naming the file: the shared readers (accuracyStat and
 * friends) do not know which file they read.
 */
export function extractResult(loaded: { kind: AnyKind; input: ResultInput }): unknown {
  try {
    return loaded.kind.extract(loaded.input);
  } catch (e) {
    if (e instanceof XbarError && !e.message.startsWith(loaded.input.file))
      throw new XbarError(`${loaded.input.file}: ${e.message}: the file is malformed; re-run the command that wrote it`);
    throw e;
  }
}

/** The result files a command-line argument names: the file itself, or the results in a folder. */
export function resultFiles(path: string): string[] {
  if (!existsSync(path)) throw new XbarError(`${path}: no such file or folder: pass ${WRITERS}`);
  if (!statSync(path).isDirectory()) return [path];
  const results = join(path, 'results.json');
  if (existsSync(results)) return [results];
  const files = readdirSync(path)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((n) => join(path, n))
    .filter((f) => {
      try {
        const j = JSON.parse(readFileSync(f, 'utf8'));
        return (
          isObj(j) &&
          typeof j.format === 'string' &&
          j.format.startsWith('xbar-') &&
          j.format !== FAULT_MAP_FORMAT &&
          j.format !== MANIFEST_FORMAT
        );
      } catch {
        return false;
      }
    });
  if (!files.length) throw new XbarError(`${path}: a folder with no results.json or other xbar result file in it: pass ${WRITERS}`);
  return files;
}

export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new XbarError(`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!text.trim()) throw new XbarError(`${file}: the file is empty: re-run the command that wrote it`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new XbarError(
      `${file}: not valid JSON (${(e as Error).message}); it is damaged or was not written by xbar: re-run the command that wrote it`,
    );
  }
}

/**
 * Reads one result file: checks that it is an xbar result of a known format and a version this
 * xbar reads, and gathers the defect maps beside it (at most `maxMaps`). A well-formed file of a
 * format this xbar does not know is skipped with the reason, not refused, so a report can mix
 * results of newer commands.
 */
export function loadResult(file: string, maxMaps: number): Loaded {
  // A result in a run folder is read only with the files of its own run beside it (maps, CSVs).
  verifyRunFolder(file, 0);
  const json = readJson(file);
  if (!isObj(json) || typeof json.format !== 'string')
    throw new XbarError(`${file}: not an xbar result file (no "format" field): pass ${WRITERS}`);
  const kind = kindOf(json.format);
  if (!kind)
    return {
      file,
      skipped: `${file}: format '${json.format}' is not one this xbar (${VERSION}) reports (it reads ${knownFormats().join(', ')}); skipped. A newer xbar may report it.`,
    };
  const notes: string[] = [];
  const writer = typeof json.xbarVersion === 'string' ? json.xbarVersion : null;
  let version = json.version;
  if (version === undefined && kind.versions.length) {
    version = kind.versions[kind.versions.length - 1];
    notes.push(`${basename(file)} has no format version; read as ${json.format} version ${version}.`);
  }
  if (!isNum(version) || !kind.versions.includes(version))
    throw new XbarError(
      `${file}: ${json.format} version ${String(version)}${writer ? ` written by xbar ${writer}` : ''}, but this xbar (${VERSION}) reads version ${kind.versions.join(', ')}: ` +
        `report it with the xbar that wrote it, or re-run the command with this one`,
    );
  if (writer && writer !== VERSION) notes.push(`Written by xbar ${writer}; this report was made by xbar ${VERSION}.`);
  const maps = json.format === FAULT_MAP_FORMAT ? [] : readMaps(join(dirname(file), 'maps'), maxMaps);
  return { kind, input: { file, json, maps }, notes };
}

/**
 * The defect maps beside a result (`maps/chip-<c>-layer-<l>.json`, or `maps/<sweep point>/...`),
 * at most `maxMaps`: chip 0's first, layer by layer across the sweep points, so that a limited
 * number still shows the first layers of every point.
 */
export function readMaps(dir: string, maxMaps: number): FaultMapFile[] {
  if (maxMaps <= 0 || !existsSync(dir) || !statSync(dir).isDirectory()) return [];
  const found: { path: string; point: string; chip: number; layer: number }[] = [];
  const scan = (d: string, point: string) => {
    for (const n of readdirSync(d).sort()) {
      const m = /^chip-(\d+)-layer-(\d+)\.json$/.exec(n);
      if (m) found.push({ path: join(d, n), point, chip: Number(m[1]), layer: Number(m[2]) });
    }
  };
  scan(dir, '');
  const points = readdirSync(dir)
    .filter((n) => statSync(join(dir, n)).isDirectory())
    .sort();
  for (const p of points) scan(join(dir, p), p);
  const pointIndex = (p: string) => (p === '' ? -1 : points.indexOf(p));
  found.sort((a, b) => a.chip - b.chip || a.layer - b.layer || pointIndex(a.point) - pointIndex(b.point));
  return found.slice(0, maxMaps).map((f) => {
    try {
      return { path: f.path, point: f.point, json: readJson(f.path) };
    } catch (e) {
      return { path: f.path, point: f.point, json: null, error: (e as Error).message };
    }
  });
}
