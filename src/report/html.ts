import type { Section, Table } from './types.js';

/**
 * The report page: one self-contained HTML file, with the CSS inline, every plot an inline SVG,
 * no script, and a content security policy that forbids loading anything, so it opens offline
 * and shows the same everywhere.
 */

export interface PageInput {
  title: string;
  /** xbar version and the time the report was made. */
  version: string;
  generated: string;
  sections: Section[];
  /** Plot SVG by `${section.id}-${plot.id}`. */
  svgs: Map<string, string>;
  /** Files left out, with the reason. */
  skipped: string[];
}

export function escapeHtml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const CSS = `
:root { --fg: #1d1f21; --muted: #5c6370; --line: #dde1e6; --accent: #3465a4; --bg: #ffffff; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 1360px; margin: 0 auto; padding: 24px 28px 48px; }
header h1 { font-size: 24px; margin: 0 0 4px; }
header p { margin: 0; color: var(--muted); }
h2 { font-size: 19px; margin: 36px 0 2px; padding-top: 12px; border-top: 2px solid var(--accent); }
h3 { font-size: 15px; margin: 20px 0 6px; }
.file { color: var(--muted); font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; margin: 0 0 10px; word-break: break-all; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 13px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 9px 4px 0; text-align: left; vertical-align: top; }
th { font-weight: 600; border-bottom: 2px solid var(--line); }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tbody tr:nth-child(even) td { background: var(--band); }
.facts { columns: 3 300px; column-gap: 28px; font-size: 13px; margin: 4px 0; }
.facts.wide { columns: 1; }
.fact { break-inside: avoid; display: flex; gap: 12px; border-bottom: 1px solid #eef0f2; padding: 3px 0; }
.fact .k { color: var(--muted); flex: 0 0 150px; }
.fact .v { flex: 1; word-break: break-word; }
.fact code { font-family: 'DejaVu Sans Mono', monospace; font-size: 12px; white-space: pre-wrap; word-break: break-all; }
caption { text-align: left; font-weight: 600; padding-bottom: 4px; }
.scroll { overflow-x: auto; }
.grid { display: flex; flex-wrap: wrap; gap: 18px 28px; align-items: flex-start; }
.grid > .table { max-width: 100%; }
.grid > figure { margin-top: 20px; }
figure { margin: 8px 0; max-width: 100%; display: table; }
figure .svg { overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { display: table-caption; caption-side: bottom; color: var(--muted); font-size: 12px; margin-top: 2px; overflow-wrap: anywhere; }
.notes { border-left: 3px solid #e8772e; background: #fff8f2; padding: 6px 12px; margin: 8px 0; font-size: 13px; }
.notes p { margin: 2px 0; }
nav table { width: 100%; }
nav a { color: var(--accent); text-decoration: none; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
@media print { h2 { break-before: page; } figure { break-inside: avoid; } }
`;

function table(t: Table, cls = ''): string {
  const numeric = t.columns.map(
    (_, c) => t.rows.length > 0 && t.rows.every((r) => /^[-+[]?[\d.]+(%|e[-+]?\d+)?([,\]]|$)/.test(r[c] ?? '') || r[c] === ''),
  );
  const head = `<tr>${t.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>`;
  const body = t.rows
    .map((r) => `<tr>${r.map((v, c) => `<td${numeric[c] ? ' class="num"' : ''}>${escapeHtml(v)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="scroll"><table${cls ? ` class="${cls}"` : ''}>${t.caption ? `<caption>${escapeHtml(t.caption)}</caption>` : ''}<thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

function facts(f: [string, string][]): string {
  if (!f.length) return '';
  const item = ([k, v]: [string, string]) =>
    `<div class="fact"><span class="k">${escapeHtml(k)}</span><span class="v">${k === 'command' ? `<code>${escapeHtml(v)}</code>` : escapeHtml(v)}</span></div>`;
  const short = f.filter(([k, v]) => v.length <= 48 && k !== 'command');
  const long = f.filter((x) => !short.includes(x));
  return `<h3>Configuration and seeds</h3><div class="facts">${short.map(item).join('')}</div>${
    long.length ? `<div class="facts wide">${long.map(item).join('')}</div>` : ''
  }`;
}

function section(s: Section, svgs: Map<string, string>): string {
  const notes = s.notes.length ? `<div class="notes">${s.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('')}</div>` : '';
  const fig = (p: Section['plots'][number]) => {
    const key = `${s.id}-${p.id}`;
    return `<figure class="plot" id="${escapeHtml(key)}" data-plot="${escapeHtml(key)}"><div class="svg">${svgs.get(key) ?? ''}</div>${
      p.caption ? `<figcaption>${escapeHtml(p.caption)}</figcaption>` : ''
    }</figure>`;
  };
  const big = s.plots.filter((p) => !p.small);
  const small = s.plots.filter((p) => p.small);
  return [
    `<section id="${escapeHtml(s.id)}" data-format="${escapeHtml(s.format)}">`,
    `<h2>${escapeHtml(s.title)}</h2>`,
    `<p class="file">${escapeHtml(s.file)}</p>`,
    notes,
    // Tables and plots flow side by side where the page is wide enough.
    `<div class="grid">${[...s.tables.map((t) => `<div class="table"><h3>${escapeHtml(t.caption)}</h3>${table({ ...t, caption: '' })}</div>`), ...big.map(fig)].join('\n')}</div>`,
    facts(s.facts),
    small.length ? `<h3>Defect maps</h3><div class="grid small">${small.map(fig).join('\n')}</div>` : '',
    '</section>',
  ].join('\n');
}

export function reportPage(p: PageInput): string {
  const navRows = p.sections
    .map(
      (s) =>
        `<tr><td><a href="#${escapeHtml(s.id)}">${escapeHtml(s.title)}</a></td><td>${escapeHtml(s.format)}</td><td>${escapeHtml(s.headline)}</td><td class="num">${s.plots.length}</td></tr>`,
    )
    .join('\n');
  const nav = `<nav><h3>Results</h3><div class="scroll"><table><thead><tr><th>result</th><th>kind</th><th>summary</th><th>plots</th></tr></thead><tbody>${navRows}</tbody></table></div></nav>`;
  const skipped = p.skipped.length
    ? `<section id="skipped"><h2>Files left out</h2><div class="notes">${p.skipped.map((s) => `<p>${escapeHtml(s)}</p>`).join('')}</div></section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="xbar ${escapeHtml(p.version)}">
<title>${escapeHtml(p.title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header><h1>${escapeHtml(p.title)}</h1><p>Made by xbar ${escapeHtml(p.version)} on ${escapeHtml(p.generated)} from ${p.sections.length} result file(s). Accuracy is the share of test images classified right; chips are independent draws of the simulated hardware.</p></header>
${nav}
${p.sections.map((s) => section(s, p.svgs)).join('\n')}
${skipped}
<footer>Self-contained: plots are inline SVG drawn with Vega-Lite; the page loads nothing from the network.</footer>
</main>
</body>
</html>
`;
}
