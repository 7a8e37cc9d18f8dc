/** Reading IDX files from disk (Node only), raw or gzipped. */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fail } from '../core/errors.js';
import { decodeIdx, type IdxArray, isGzip } from './idx.js';

/** Read and decode an IDX file; gzip is detected by its magic bytes, not by the file name. */
export function readIdxFile(path: string): IdxArray {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') fail(`${path}: file not found: check the path or pass --data-dir DIR`);
    fail(`${path}: cannot read (${code ?? (e as Error).message}): check that it is a readable file`);
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (e) {
      fail(`${path}: corrupt gzip data (${(e as Error).message}): the file is damaged or truncated; re-copy it`);
    }
  }
  return decodeIdx(bytes, path);
}
