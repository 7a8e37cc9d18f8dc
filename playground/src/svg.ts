/**
 * The page's few plots as plain SVG strings: an accuracy histogram, a confusion matrix, horizontal
 * bars. (The report's vega-lite plots would add ~1 MB of script to the page: docs/decisions.md.)
 */

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)}%`;

/** Histogram of values in 0..1 (chip accuracies), with an optional reference line. */
export function histogram(values: number[], opts: { title: string; ref?: { x: number; label: string }; color?: string }): string {
  const W = 380;
  const H = 170;
  const L = 36;
  const B = 30;
  const T = 22;
  if (!values.length)
    return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}"><text x="8" y="16">${esc(opts.title)}: no chips yet</text></svg>`;
  let lo = Math.min(...values, opts.ref?.x ?? 1);
  let hi = Math.max(...values, opts.ref?.x ?? 0);
  if (hi - lo < 0.02) {
    lo -= 0.01;
    hi += 0.01;
  }
  const bins = Math.min(30, Math.max(5, Math.ceil(Math.sqrt(values.length) * 2)));
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor(((v - lo) / (hi - lo)) * bins))]++;
  const top = Math.max(...counts);
  const x = (v: number) => L + ((v - lo) / (hi - lo)) * (W - L - 8);
  const bw = (W - L - 8) / bins;
  const parts = [`<text x="${L}" y="14" font-weight="600">${esc(opts.title)}</text>`];
  counts.forEach((c, i) => {
    const h = (c / top) * (H - B - T);
    if (c)
      parts.push(
        `<rect x="${L + i * bw + 0.5}" y="${H - B - h}" width="${bw - 1}" height="${h}" fill="${opts.color ?? '#4c78a8'}"><title>${c} chips</title></rect>`,
      );
  });
  parts.push(`<line x1="${L}" x2="${W - 8}" y1="${H - B}" y2="${H - B}" stroke="#333"/>`);
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((hi - lo) * k) / 4;
    parts.push(`<text x="${x(v)}" y="${H - B + 14}" text-anchor="middle" font-size="10">${pct(v)}</text>`);
  }
  parts.push(`<text x="${(L + W) / 2}" y="${H - 2}" text-anchor="middle" font-size="10">accuracy per chip</text>`);
  parts.push(`<text x="4" y="${T + 8}" font-size="10">${top}</text><text x="4" y="${H - B}" font-size="10">0</text>`);
  if (opts.ref)
    parts.push(
      `<line x1="${x(opts.ref.x)}" x2="${x(opts.ref.x)}" y1="${T}" y2="${H - B}" stroke="#d62728" stroke-dasharray="4 3"/>`,
      `<text x="${x(opts.ref.x) - 3}" y="${T + 8}" text-anchor="end" font-size="10" fill="#d62728">${esc(opts.ref.label)}</text>`,
    );
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">${parts.join('')}</svg>`;
}

/** Confusion matrix as a heat map of row-normalised shares (row = true class). */
export function confusion(m: ArrayLike<number>, classes: number, names: string[], title: string): string {
  const cell = 24;
  const L = 28;
  const T = 34;
  const W = Math.max(380, L + classes * cell + 6);
  const H = T + classes * cell + 6;
  const parts = [`<text x="0" y="12" font-weight="600">${esc(title)}</text>`, `<text x="${L}" y="27" font-size="10">predicted →</text>`];
  for (let t = 0; t < classes; t++) {
    let row = 0;
    for (let p = 0; p < classes; p++) row += m[t * classes + p];
    parts.push(`<text x="${L - 4}" y="${T + t * cell + 16}" text-anchor="end" font-size="10">${esc(names[t] ?? String(t))}</text>`);
    for (let p = 0; p < classes; p++) {
      const share = row ? m[t * classes + p] / row : 0;
      const shade = Math.round(255 * (1 - Math.sqrt(share)));
      const fill = t === p ? `rgb(${shade},${Math.round(120 + 0.53 * shade)},${shade})` : `rgb(255,${shade},${shade})`;
      parts.push(
        `<rect x="${L + p * cell}" y="${T + t * cell}" width="${cell - 1}" height="${cell - 1}" fill="${fill}"><title>true ${esc(names[t] ?? String(t))}, predicted ${esc(names[p] ?? String(p))}: ${pct(share)} (${m[t * classes + p]})</title></rect>`,
      );
      if (share >= 0.05)
        parts.push(
          `<text x="${L + p * cell + cell / 2 - 0.5}" y="${T + t * cell + 15}" text-anchor="middle" font-size="8" fill="${share > 0.5 ? '#fff' : '#000'}">${Math.round(100 * share)}</text>`,
        );
    }
  }
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">${parts.join('')}</svg>`;
}

/** Horizontal bars with labels; values in accuracy units (shown as percentage points). */
export function bars(rows: { label: string; value: number; note?: string }[], title: string): string {
  const W = 380;
  const rowH = 20;
  const L = 110;
  const H = 24 + rows.length * rowH + 4;
  const top = Math.max(0.001, ...rows.map((r) => Math.abs(r.value)));
  const parts = [`<text x="0" y="14" font-weight="600">${esc(title)}</text>`];
  rows.forEach((r, i) => {
    const y = 24 + i * rowH;
    const w = (Math.max(0, r.value) / top) * (W - L - 70);
    parts.push(
      `<text x="${L - 6}" y="${y + 13}" text-anchor="end" font-size="11">${esc(r.label)}</text>`,
      `<rect x="${L}" y="${y + 2}" width="${w}" height="${rowH - 6}" fill="#e45756"><title>${esc(r.note ?? '')}</title></rect>`,
      `<text x="${L + w + 4}" y="${y + 13}" font-size="11">${(100 * r.value).toFixed(2)} pp</text>`,
    );
  });
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">${parts.join('')}</svg>`;
}

/** Paired dots: each held-out chip before (grey) and after (green) correction. */
export function recovery(pairs: { before: number; after: number }[], title: string, software: number): string {
  const W = 420;
  const H = 40 + pairs.length * 10 + 30;
  const L = 10;
  const lo = Math.min(software, ...pairs.flatMap((p) => [p.before, p.after])) - 0.02;
  const x = (v: number) => L + ((v - lo) / (1 - lo)) * (W - L - 20);
  const parts = [`<text x="0" y="14" font-weight="600">${esc(title)}</text>`];
  pairs.forEach((p, i) => {
    const y = 30 + i * 10;
    parts.push(
      `<line x1="${x(p.before)}" x2="${x(p.after)}" y1="${y}" y2="${y}" stroke="#bbb"/>`,
      `<circle cx="${x(p.before)}" cy="${y}" r="3" fill="#888"/>`,
      `<circle cx="${x(p.after)}" cy="${y}" r="3" fill="#2ca02c"/>`,
    );
  });
  const yEnd = 30 + pairs.length * 10;
  parts.push(
    `<line x1="${x(software)}" x2="${x(software)}" y1="22" y2="${yEnd}" stroke="#d62728" stroke-dasharray="4 3"/>`,
    `<text x="${x(software) - 3}" y="${yEnd + 12}" text-anchor="end" font-size="10" fill="#d62728">software ${pct(software)}</text>`,
  );
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((1 - lo) * k) / 4;
    parts.push(`<text x="${x(v)}" y="${H - 4}" text-anchor="middle" font-size="10">${pct(v, 0)}</text>`);
  }
  return `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" font-family="sans-serif" font-size="12">${parts.join('')}</svg>`;
}
