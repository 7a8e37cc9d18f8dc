import { decode, encode, hasPngSignature } from 'fast-png';
import { XbarError } from '../core/errors.js';
import { type FaultMap, NONE, STUCK_AT, STUCK_OFF, STUCK_ON } from './pattern.js';
import { FAULT_MAP_FORMAT, type FaultMapJSON, faultMapFromJSON } from './render.js';

/**
 * Measured defect maps, as a user brings them from a wafer test: one array's stuck cells as a PNG
 * or a CSV, or JSON listing the stuck cells (kind and level) of one or more arrays. Parsing and
 * writing are pure (bytes and text in and out): faults/node.ts reads the files.
 *
 * - PNG, one pixel per cell (rows x physical columns, as mapping.ts lays an array out): white
 *   healthy, red (255, 0, 0) stuck-on, blue (0, 0, 255) stuck-off, grey (v, v, v), v < 255,
 *   stuck-at level v / 254 of Gmin..Gmax (black = level 0). Any bit depth or colour type
 *   fast-png decodes; alpha is ignored. Levels therefore carry 1/254 steps.
 * - CSV, one line per row, one field per cell: `0` (or empty) healthy, `on`, `off`, `at=<level>`.
 * - JSON: `xbar faults --out map.json` (one array), a chip's map file from `xbar simulate --out`
 *   (`maps/`: every array of one layer, bound to that layer and array), or a list
 *   `{ "format": "xbar-defect-list", "arrays": [{ "layer": 0, "array": 1, "rows": 65, "cols": 16,
 *   "cells": [{ "row": 3, "col": 5, "kind": "stuck-on" }, { "row": 4, "col": 0, "kind": "stuck-at",
 *   "level": 0.4 }] }] }` (layer and array optional: all of them).
 */

/** One array's measured map, and where it applies (a weighted layer and array index, when the file says). */
export interface ArrayMap {
  map: FaultMap;
  layer?: number;
  array?: number;
}

export const DEFECT_LIST_FORMAT = 'xbar-defect-list';

const WHITE = 255;

/** Decodes a PNG defect map; `where` names the file in errors. */
export function mapFromPng(bytes: Uint8Array, where: string): FaultMap {
  if (!hasPngSignature(bytes)) throw new XbarError(`${where} is not a PNG file (no PNG signature)`);
  let png: ReturnType<typeof decode>;
  try {
    png = decode(bytes);
  } catch (e) {
    throw new XbarError(`${where} is a damaged PNG: ${(e as Error).message}`);
  }
  const { width: cols, height: rows, channels, depth } = png;
  if (png.palette) throw new XbarError(`${where}: indexed-colour PNGs are not read; save it as RGB or greyscale`);
  const data = png.data;
  const max = 2 ** depth - 1;
  const colour = channels >= 3;
  const map: FaultMap = { rows, cols, kind: new Uint8Array(rows * cols), level: new Float32Array(rows * cols) };
  for (let i = 0; i < rows * cols; i++) {
    // To 8 bits whatever the depth: 16-bit files round to the same colours.
    const at = (k: number) => Math.round((data[i * channels + k] * 255) / max);
    const [r, g, b] = colour ? [at(0), at(1), at(2)] : [at(0), at(0), at(0)];
    if (r === WHITE && g === WHITE && b === WHITE) continue;
    if (r === 255 && g === 0 && b === 0) map.kind[i] = STUCK_ON;
    else if (r === 0 && g === 0 && b === 255) map.kind[i] = STUCK_OFF;
    else if (r === g && g === b) {
      map.kind[i] = STUCK_AT;
      map.level[i] = r / 254;
    } else
      throw new XbarError(
        `${where}: pixel (row ${Math.floor(i / cols)}, column ${i % cols}) is rgb(${r}, ${g}, ${b}); a defect map uses white (healthy), red (stuck-on), blue (stuck-off) or grey (stuck-at)`,
      );
  }
  return map;
}

/** Encodes a map as an 8-bit RGB PNG (mapFromPng's colours; stuck-at levels rounded to 1/254). */
export function mapToPng(map: FaultMap): Uint8Array {
  const data = new Uint8Array(map.rows * map.cols * 3);
  for (let i = 0; i < map.rows * map.cols; i++) {
    const k = map.kind[i];
    const v = Math.round(map.level[i] * 254);
    const rgb = k === STUCK_ON ? [255, 0, 0] : k === STUCK_OFF ? [0, 0, 255] : k === STUCK_AT ? [v, v, v] : [255, 255, 255];
    data.set(rgb, i * 3);
  }
  return encode({ width: map.cols, height: map.rows, data, channels: 3, depth: 8 });
}

/** Parses a CSV defect map (see the module comment). */
export function mapFromCsv(text: string, where: string): FaultMap {
  const lines = text.replace(/\r/g, '').split('\n');
  while (lines.length && lines[lines.length - 1].trim() === '') lines.pop();
  if (!lines.length) throw new XbarError(`${where} is empty: a CSV defect map has one line per array row`);
  const rows = lines.map((l) => l.split(','));
  const cols = rows[0].length;
  const map: FaultMap = { rows: rows.length, cols, kind: new Uint8Array(rows.length * cols), level: new Float32Array(rows.length * cols) };
  rows.forEach((fields, r) => {
    if (fields.length !== cols) throw new XbarError(`${where}: line ${r + 1} has ${fields.length} fields, the first has ${cols}`);
    fields.forEach((f, c) => {
      const v = f.trim().toLowerCase();
      const i = r * cols + c;
      if (v === '' || v === '0') return;
      if (v === 'on') map.kind[i] = STUCK_ON;
      else if (v === 'off') map.kind[i] = STUCK_OFF;
      else if (v.startsWith('at=') && Number(v.slice(3)) >= 0 && Number(v.slice(3)) <= 1 && v.length > 3) {
        map.kind[i] = STUCK_AT;
        map.level[i] = Number(v.slice(3));
      } else throw new XbarError(`${where}: line ${r + 1}, field ${c + 1} is '${f}'; use 0, on, off or at=<level 0..1>`);
    });
  });
  return map;
}

export function mapToCsv(map: FaultMap): string {
  const out: string[] = [];
  for (let r = 0; r < map.rows; r++) {
    const f: string[] = [];
    for (let c = 0; c < map.cols; c++) {
      const i = r * map.cols + c;
      const k = map.kind[i];
      f.push(k === STUCK_ON ? 'on' : k === STUCK_OFF ? 'off' : k === STUCK_AT ? `at=${map.level[i]}` : '0');
    }
    out.push(f.join(','));
  }
  return `${out.join('\n')}\n`;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const KINDS: Record<string, number> = { 'stuck-on': STUCK_ON, 'stuck-off': STUCK_OFF, 'stuck-at': STUCK_AT };

/**
 * The arrays of a JSON defect map, or null when the JSON is not one (a fault spec file, then).
 * Throws one line naming the file and the entry for a malformed one.
 */
export function mapsFromJson(json: unknown, where: string): ArrayMap[] | null {
  if (!isObj(json)) return null;
  if (json.format === FAULT_MAP_FORMAT) {
    if (isObj(json.map)) return [{ map: faultMapFromJSON(json.map as unknown as FaultMapJSON, `${where}: map`) }];
    if (Array.isArray(json.tiles) && Number.isInteger(json.layer))
      return json.tiles.flatMap((t, k) => {
        if (!isObj(t)) throw new XbarError(`${where}: tiles[${k}] is not an object`);
        return t.map
          ? [
              {
                map: faultMapFromJSON(t.map as unknown as FaultMapJSON, `${where}: tiles[${k}].map`),
                layer: json.layer as number,
                array: k,
              },
            ]
          : [];
      });
    throw new XbarError(`${where}: an ${FAULT_MAP_FORMAT} file needs 'map' or 'layer' and 'tiles'`);
  }
  if (json.format !== DEFECT_LIST_FORMAT) return null;
  if (!Array.isArray(json.arrays) || !json.arrays.length) throw new XbarError(`${where}: 'arrays' must list at least one array`);
  return json.arrays.map((a, k) => {
    const w = `${where}: arrays[${k}]`;
    if (!isObj(a)) throw new XbarError(`${w} is not an object`);
    const { rows, cols, layer, array, cells } = a;
    if (!Number.isInteger(rows) || !Number.isInteger(cols) || (rows as number) < 1 || (cols as number) < 1)
      throw new XbarError(`${w} needs integer rows and cols >= 1 (the array's rows and physical columns)`);
    for (const [name, v] of [
      ['layer', layer],
      ['array', array],
    ] as const)
      if (v !== undefined && !(Number.isInteger(v) && (v as number) >= 0)) throw new XbarError(`${w}.${name} must be an index >= 0`);
    if (!Array.isArray(cells)) throw new XbarError(`${w}.cells must list the stuck cells ({ row, col, kind, level })`);
    const R = rows as number;
    const C = cols as number;
    const map: FaultMap = { rows: R, cols: C, kind: new Uint8Array(R * C), level: new Float32Array(R * C) };
    cells.forEach((c, i) => {
      const code = isObj(c) && typeof c.kind === 'string' ? KINDS[c.kind] : undefined;
      const ok =
        isObj(c) &&
        Number.isInteger(c.row) &&
        Number.isInteger(c.col) &&
        (c.row as number) >= 0 &&
        (c.row as number) < R &&
        (c.col as number) >= 0 &&
        (c.col as number) < C &&
        code !== undefined &&
        (code !== STUCK_AT || (typeof c.level === 'number' && c.level >= 0 && c.level <= 1));
      if (!ok || !isObj(c))
        throw new XbarError(
          `${w}.cells[${i}] must be { row: 0..${R - 1}, col: 0..${C - 1}, kind: stuck-on | stuck-off | stuck-at, level: 0..1 (stuck-at) }`,
        );
      const j = (c.row as number) * C + (c.col as number);
      map.kind[j] = code;
      map.level[j] = code === STUCK_AT ? (c.level as number) : 0;
    });
    return { map, ...(layer !== undefined && { layer: layer as number }), ...(array !== undefined && { array: array as number }) };
  });
}

/** How many cells a map has stuck (for messages). */
export function stuckCount(map: FaultMap): number {
  let n = 0;
  for (const k of map.kind) if (k !== NONE) n++;
  return n;
}
