import { XbarError } from '../../core/errors.js';
import { faultKindName, NONE } from '../../faults/pattern.js';
import { FAULT_MAP_FORMAT, FAULT_MAP_VERSION, type FaultMapJSON, faultMapFromJSON } from '../../faults/render.js';
import { type HeatCell, type HeatTile, heatMapPlot } from '../plots.js';
import type { BuildContext, Plot, ReportKind, ResultInput, Section } from '../types.js';
import { fmt, isNum, isObj } from '../util.js';

/**
 * `xbar-fault-map`: the defect maps `xbar simulate --out` writes beside its results (every
 * array of one chip's layer) and `xbar faults --out x.json` writes (one array).
 */

/** Gap between the arrays of a layer in the picture, in cells (as the SVG maps of `xbar simulate`). */
const GAP = 3;
/** Above this many stuck cells a map is drawn as blocks shaded by their share of stuck cells. */
const MAX_CELLS = 6000;

export interface LayerMap {
  chip: number | null;
  layer: number | null;
  seed: number | null;
  faults: string;
  tiles: HeatTile[];
  cells: HeatCell[];
  binned: boolean;
  /** Block edge in cells when binned. */
  block: number;
  /** Stuck cells per kind: stuck-on, stuck-off, stuck-at, and all cells of all arrays. */
  counts: { 'stuck-on': number; 'stuck-off': number; 'stuck-at': number; cells: number };
}

/** Reads one fault-map JSON (either form) into heat-map tiles and cells. Throws XbarError naming `file`. */
export function extractFaultMap(json: unknown, file: string): LayerMap {
  if (!isObj(json) || json.format !== FAULT_MAP_FORMAT)
    throw new XbarError(`${file}: not an xbar defect map (format ${FAULT_MAP_FORMAT} expected)`);
  if (json.version !== FAULT_MAP_VERSION)
    throw new XbarError(
      `${file}: defect map version ${fmt(json.version)}; this xbar reads version ${FAULT_MAP_VERSION}: re-run the simulation with this xbar`,
    );
  type TileIn = { r0: number; c0: number; map: FaultMapJSON | null; rows?: number; cols?: number; x0?: number };
  let tilesIn: TileIn[];
  if (Array.isArray(json.tiles)) {
    tilesIn = json.tiles.map((t, i) => {
      if (!isObj(t) || !isNum(t.r0) || !isNum(t.c0) || !isNum(t.r1) || !isNum(t.c1))
        throw new XbarError(`${file}: tiles[${i}] needs r0, r1, c0, c1: the file is malformed; re-run the simulation`);
      // cols and x0 (physical columns, and those of the arrays to the left) are written since mappings
      // other than one differential pair exist; older files have a pair per weight column.
      const cols = isNum(t.cols) ? t.cols : 2 * (t.c1 - t.c0);
      const x0 = isNum(t.x0) ? t.x0 : 2 * t.c0;
      return { r0: t.r0, c0: t.c0, map: (t.map ?? null) as FaultMapJSON | null, rows: t.r1 - t.r0, cols, x0 };
    });
  } else if (isObj(json.map)) tilesIn = [{ r0: 0, c0: 0, map: json.map as unknown as FaultMapJSON }];
  else throw new XbarError(`${file}: a defect map needs 'tiles' or 'map': the file is malformed`);
  if (!tilesIn.length) throw new XbarError(`${file}: the defect map has no arrays`);

  const rowStarts = [...new Set(tilesIn.map((t) => t.r0))].sort((a, b) => a - b);
  const colStarts = [...new Set(tilesIn.map((t) => t.c0))].sort((a, b) => a - b);
  const maps = tilesIn.map((t, i) => (t.map ? faultMapFromJSON(t.map, `${file}: tiles[${i}].map`) : null));
  const placed = tilesIn.map((t, i) => {
    const rows = maps[i]?.rows ?? t.rows ?? 1;
    const cols = maps[i]?.cols ?? t.cols ?? 1;
    const x0 = (t.x0 ?? 2 * t.c0) + GAP * colStarts.indexOf(t.c0);
    const y0 = t.r0 + GAP * rowStarts.indexOf(t.r0);
    return { x0, y0, x1: x0 + cols, y1: y0 + rows, map: maps[i] };
  });
  const counts = { 'stuck-on': 0, 'stuck-off': 0, 'stuck-at': 0, cells: 0 };
  for (const p of placed) {
    counts.cells += (p.x1 - p.x0) * (p.y1 - p.y0);
    if (p.map) for (const k of p.map.kind) if (k !== NONE) counts[faultKindName[k] as 'stuck-on']++;
  }
  const stuck = counts['stuck-on'] + counts['stuck-off'] + counts['stuck-at'];
  const W = Math.max(...placed.map((p) => p.x1));
  const H = Math.max(...placed.map((p) => p.y1));
  const binned = stuck > MAX_CELLS;
  const block = binned ? Math.max(2, Math.ceil(Math.max(W, H) / 64)) : 1;
  const cells: HeatCell[] = [];
  for (const p of placed) {
    const m = p.map;
    if (!m) continue;
    if (!binned) {
      for (let r = 0; r < m.rows; r++) {
        let c = 0;
        while (c < m.cols) {
          const k = m.kind[r * m.cols + c];
          let e = c + 1;
          while (e < m.cols && m.kind[r * m.cols + e] === k) e++;
          if (k !== NONE) cells.push({ x: p.x0 + c, y: p.y0 + r, w: e - c, h: 1, kind: faultKindName[k] });
          c = e;
        }
      }
    } else {
      for (let br = 0; br < m.rows; br += block)
        for (let bc = 0; bc < m.cols; bc += block) {
          let n = 0;
          let all = 0;
          for (let r = br; r < Math.min(m.rows, br + block); r++)
            for (let c = bc; c < Math.min(m.cols, bc + block); c++) {
              all++;
              if (m.kind[r * m.cols + c] !== NONE) n++;
            }
          if (n)
            cells.push({ x: p.x0 + bc, y: p.y0 + br, w: Math.min(block, m.cols - bc), h: Math.min(block, m.rows - br), share: n / all });
        }
    }
  }
  return {
    chip: isNum(json.chip) ? json.chip : null,
    layer: isNum(json.layer) ? json.layer : null,
    seed: isNum(json.seed) ? json.seed : null,
    faults: typeof json.faults === 'string' ? json.faults : '',
    tiles: placed.map(({ x0, y0, x1, y1 }) => ({ x0, y0, x1, y1 })),
    cells,
    binned,
    block,
    counts,
  };
}

/** The heat-map plot of one layer's map. */
export function faultMapPlot(m: LayerMap, id: string, opts: { point?: string; showFaults?: boolean } = {}): Plot {
  const stuck = m.counts['stuck-on'] + m.counts['stuck-off'] + m.counts['stuck-at'];
  const where =
    [m.chip !== null ? `chip ${m.chip}` : '', m.layer !== null ? `layer ${m.layer}` : ''].filter(Boolean).join(', ') || 'defect map';
  const share = `${stuck} of ${m.counts.cells} cells stuck (${((100 * stuck) / m.counts.cells).toFixed(2)}%)`;
  const title = `${opts.point ? `${opts.point}: ` : ''}${where}: ${share}`;
  const parts = (['stuck-on', 'stuck-off', 'stuck-at'] as const).filter((k) => m.counts[k]).map((k) => `${m.counts[k]} ${k}`);
  return {
    id,
    title,
    small: true,
    caption:
      `${m.chip !== null ? `${m.tiles.length} array(s) as they sit on the chip (G+ and G- columns side by side)` : 'One array'}; ${parts.join(', ') || 'no stuck cells'}` +
      (m.binned ? `; drawn as ${m.block}x${m.block} blocks shaded by their share of stuck cells` : '') +
      (m.faults && opts.showFaults !== false ? `. Faults: ${m.faults}` : ''),
    spec: heatMapPlot(opts.point ? [opts.point, where, share] : [where, share], m.tiles, m.cells, m.binned),
  };
}

export const faultMapKind: ReportKind<LayerMap> = {
  format: FAULT_MAP_FORMAT,
  label: 'defect map',
  versions: [FAULT_MAP_VERSION],
  extract: (input: ResultInput) => extractFaultMap(input.json, input.file),
  section(m: LayerMap, ctx: BuildContext): Section {
    const stuck = m.counts['stuck-on'] + m.counts['stuck-off'] + m.counts['stuck-at'];
    const facts: [string, string][] = [];
    if (m.faults) facts.push(['faults', m.faults]);
    if (m.seed !== null) facts.push(['seed', String(m.seed)]);
    if (m.chip !== null) facts.push(['chip', String(m.chip)]);
    if (m.layer !== null) facts.push(['layer', String(m.layer)]);
    facts.push(['arrays', String(m.tiles.length)]);
    return {
      id: ctx.id,
      format: FAULT_MAP_FORMAT,
      title: `Defect map${m.chip !== null ? ` of chip ${m.chip}${m.layer !== null ? `, layer ${m.layer}` : ''}` : ''}`,
      file: '',
      facts,
      tables: [],
      plots: [faultMapPlot(m, 'map')],
      notes: [],
      headline: `${stuck} stuck cells of ${m.counts.cells}`,
    };
  },
};
