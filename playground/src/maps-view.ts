import type { LayerMaps } from './engine.js';

/** Fault maps on canvases: every array of every layer, and the editor's background. */

// Cell colours of src/faults/render.ts: none, stuck-on, stuck-off, stuck-at.
const RGB: [number, number, number][] = [
  [244, 244, 244],
  [214, 39, 40],
  [31, 78, 156],
  [240, 163, 10],
];

/** One layer's arrays at one pixel per cell, tiles at their place in the layer (rows = inputs + bias). */
export function layerImage(m: LayerMaps): ImageData {
  const width = Math.max(...m.tiles.map((t) => t.c0 + t.cols));
  const height = Math.max(...m.tiles.map((t) => t.r0 + t.rows));
  const img = new ImageData(width, height);
  for (const t of m.tiles)
    for (let r = 0; r < t.rows; r++)
      for (let c = 0; c < t.cols; c++) {
        const k = t.kind ? t.kind[r * t.cols + c] : 0;
        // Tile borders one shade darker, so the arrays read as arrays.
        const edge = t.rows >= 32 && t.cols >= 32 && (r === 0 || c === 0 || r === t.rows - 1 || c === t.cols - 1);
        const o = 4 * ((t.r0 + r) * width + t.c0 + c);
        const [R, G, B] = RGB[k] ?? RGB[0];
        const d = edge && k === 0 ? 60 : 0;
        img.data[o] = R - d;
        img.data[o + 1] = G - d;
        img.data[o + 2] = B - d;
        img.data[o + 3] = 255;
      }
  return img;
}

/** A canvas holding `img` at one pixel per cell, shown scaled by CSS. */
export function imageCanvas(img: ImageData, cssWidth: number): HTMLCanvasElement {
  const c = document.createElement('canvas');
  c.width = img.width;
  c.height = img.height;
  c.getContext('2d')?.putImageData(img, 0, 0);
  // Fit the width, and at most 200 px of height (a 785-input layer is a tall array).
  const scale = Math.max(0.25, Math.min(6, cssWidth / img.width, 200 / img.height));
  c.style.width = `${Math.round(img.width * scale)}px`;
  c.style.height = `${Math.round(img.height * scale)}px`;
  return c;
}

export function renderMaps(host: HTMLElement, maps: LayerMaps[], names: string[]): void {
  host.replaceChildren(
    ...maps.map((m) => {
      const fig = document.createElement('figure');
      const stuck = m.tiles.reduce((a, t) => a + (t.kind ? t.kind.reduce((s, k) => s + (k ? 1 : 0), 0) : 0), 0);
      const cells = m.tiles.reduce((a, t) => a + t.rows * t.cols, 0);
      fig.append(imageCanvas(layerImage(m), Math.min(260, Math.max(80, m.tiles.length > 1 ? 260 : 160))));
      const cap = document.createElement('figcaption');
      cap.textContent = `layer ${m.layer} (${names[m.layer] ?? ''}): ${m.tiles.length} array${m.tiles.length > 1 ? 's' : ''}, ${stuck} of ${cells} cells stuck`;
      cap.dataset.stuck = String(stuck);
      fig.append(cap);
      fig.dataset.layer = String(m.layer);
      return fig;
    }),
  );
}

/** The editor: the first array of the chosen layer filling the canvas, then the drag's outline. */
export function drawEditor(
  canvas: HTMLCanvasElement,
  m: LayerMaps | undefined,
  drag: { u0: number; v0: number; u1: number; v1: number; tool: string } | null,
): void {
  const g = canvas.getContext('2d');
  if (!g) return;
  const W = canvas.width;
  const H = canvas.height;
  g.fillStyle = '#f4f4f4';
  g.fillRect(0, 0, W, H);
  const t = m?.tiles[0];
  if (m && t) {
    const one: LayerMaps = { ...m, tiles: [{ ...t, r0: 0, c0: 0 }] };
    const src = document.createElement('canvas');
    const img = layerImage(one);
    src.width = img.width;
    src.height = img.height;
    src.getContext('2d')?.putImageData(img, 0, 0);
    g.imageSmoothingEnabled = false;
    g.drawImage(src, 0, 0, W, H);
  }
  if (!drag) return;
  g.strokeStyle = '#000';
  g.setLineDash([5, 4]);
  g.lineWidth = 2;
  const { u0, v0, u1, v1, tool } = drag;
  g.beginPath();
  if (tool === 'circle' || tool === 'ring') {
    // Relative coordinates: a circle of radius r is an ellipse on a non-square picture.
    const r = Math.hypot(u1 - u0, v1 - v0);
    g.ellipse(u0 * W, v0 * H, r * W, r * H, 0, 0, 2 * Math.PI);
  } else if (tool === 'rows') g.rect(0, Math.min(v0, v1) * H, W, Math.abs(v1 - v0) * H);
  else if (tool === 'columns') g.rect(Math.min(u0, u1) * W, 0, Math.abs(u1 - u0) * W, H);
  else g.rect(1, 1, W - 2, H - 2);
  g.stroke();
  g.setLineDash([]);
}
