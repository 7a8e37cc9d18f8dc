import { XbarError } from '../core/errors.js';
import { type FaultMap, faultKindName, NONE, STUCK_AT } from './pattern.js';

export const FAULT_MAP_FORMAT = 'xbar-fault-map';
export const FAULT_MAP_VERSION = 1;

/** One array's map as JSON: a string per row, one digit per cell (0 none, 1 stuck-on, 2 stuck-off, 3 stuck-at). */
export interface FaultMapJSON {
  rows: number;
  cols: number;
  cells: string[];
  /** [row, col, level] of each stuck-at cell; level is a fraction of Gmin..Gmax. */
  stuckAt: [number, number, number][];
}

export function faultMapToJSON(map: FaultMap): FaultMapJSON {
  const cells: string[] = [];
  const stuckAt: [number, number, number][] = [];
  for (let r = 0; r < map.rows; r++) {
    let s = '';
    for (let c = 0; c < map.cols; c++) {
      const k = map.kind[r * map.cols + c];
      s += k;
      if (k === STUCK_AT) stuckAt.push([r, c, map.level[r * map.cols + c]]);
    }
    cells.push(s);
  }
  return { rows: map.rows, cols: map.cols, cells, stuckAt };
}

export function faultMapFromJSON(json: FaultMapJSON, where = 'fault map'): FaultMap {
  const { rows, cols, cells } = json ?? ({} as FaultMapJSON);
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || !Array.isArray(cells) || cells.length !== rows)
    throw new XbarError(`${where}: needs integer rows, cols >= 1 and one string per row in cells`);
  const map: FaultMap = { rows, cols, kind: new Uint8Array(rows * cols), level: new Float32Array(rows * cols) };
  cells.forEach((s, r) => {
    if (typeof s !== 'string' || !/^[0-3]*$/.test(s) || s.length !== cols)
      throw new XbarError(`${where}: row ${r} must be ${cols} digits 0-3`);
    for (let c = 0; c < cols; c++) map.kind[r * cols + c] = s.charCodeAt(c) - 48;
  });
  for (const [r, c, level] of json.stuckAt ?? []) {
    if (map.kind[r * cols + c] !== STUCK_AT || !(level >= 0 && level <= 1))
      throw new XbarError(`${where}: stuckAt entry [${r}, ${c}, ${level}] is not a stuck-at cell with a level in 0..1`);
    map.level[r * cols + c] = level;
  }
  return map;
}

const COLORS = ['#f4f4f4', '#d62728', '#1f4e9c', '#f0a30a'];

export interface MapPlacement {
  map: FaultMap;
  /** Top-left corner in cells, for drawing several arrays (the tiles of a layer) in one picture. */
  x: number;
  y: number;
}

/**
 * An SVG picture of one or more arrays: one square per cell, coloured by fault kind, with a
 * legend. Stuck-at cells are shaded by their level. Runs of equal cells share a rectangle, so
 * a 256x256 array stays a small file.
 */
export function faultMapsToSVG(items: MapPlacement[], opts: { title?: string; cell?: number } = {}): string {
  const cell = opts.cell ?? Math.max(2, Math.min(12, Math.floor(720 / Math.max(...items.map((i) => i.x + i.map.cols)))));
  const width = Math.max(...items.map((i) => i.x + i.map.cols)) * cell;
  const height = Math.max(...items.map((i) => i.y + i.map.rows)) * cell;
  const top = opts.title ? 24 : 4;
  const legendH = 22;
  const parts: string[] = [];
  for (const { map, x, y } of items) {
    parts.push(
      `<rect x="${x * cell}" y="${top + y * cell}" width="${map.cols * cell}" height="${map.rows * cell}" fill="${COLORS[NONE]}" stroke="#999" stroke-width="0.5"/>`,
    );
    for (let r = 0; r < map.rows; r++) {
      let c = 0;
      while (c < map.cols) {
        const k = map.kind[r * map.cols + c];
        let e = c + 1;
        while (e < map.cols && map.kind[r * map.cols + e] === k && k !== STUCK_AT) e++;
        if (k !== NONE) {
          const opacity = k === STUCK_AT ? ` fill-opacity="${(0.35 + 0.65 * map.level[r * map.cols + c]).toFixed(2)}"` : '';
          parts.push(
            `<rect x="${(x + c) * cell}" y="${top + (y + r) * cell}" width="${(e - c) * cell}" height="${cell}" fill="${COLORS[k]}"${opacity}/>`,
          );
        }
        c = e;
      }
    }
  }
  const legend = [1, 2, 3]
    .map(
      (k, i) =>
        `<rect x="${4 + i * 110}" y="${top + height + 6}" width="10" height="10" fill="${COLORS[k]}"/><text x="${18 + i * 110}" y="${top + height + 15}">${faultKindName[k]}</text>`,
    )
    .join('');
  const title = opts.title ? `<text x="4" y="16" font-weight="bold">${escapeXml(opts.title)}</text>` : '';
  const w = Math.max(width, 340, opts.title ? Math.ceil(opts.title.length * 6.5) : 0) + 8;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${top + height + legendH + 4}" font-family="sans-serif" font-size="11">${title}${parts.join('')}${legend}</svg>\n`;
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[ch] as string);
}
