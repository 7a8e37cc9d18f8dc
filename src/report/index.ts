import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { XbarError } from '../core/errors.js';
import { writeFileAtomic } from '../core/fs-node.js';
import { VERSION } from '../version.js';
import { withBrowser } from './browser.js';
import { reportPage } from './html.js';
import { extractResult, loadResult, resultFilesOf } from './load.js';
import { renderSVG } from './render.js';
import type { Plot, Section } from './types.js';
import { slug } from './util.js';

export { kindOf, knownFormats } from './kinds/index.js';
export type { Plot, ReportKind, Section, Table } from './types.js';

export interface ReportOptions {
  /** Most defect maps drawn per result (default 12). */
  maxMaps?: number;
  title?: string;
  /** Called after each plot is drawn. */
  onPlot?: (done: number, total: number, label: string) => void;
}

export interface RenderedPlot {
  section: Section;
  plot: Plot;
  /** `<section id>-<plot id>`: the figure's id in the page and the export file's name. */
  key: string;
  svg: string;
}

export interface Report {
  title: string;
  sections: Section[];
  plots: RenderedPlot[];
  /** Files left out (unknown format), with the reason. */
  skipped: string[];
  /** Rendering warnings: none expected; the tests check. */
  warnings: string[];
}

/** A section id from the result's file: its folder's name for results.json, else the file's name. */
function sectionId(file: string, used: Set<string>): string {
  const name = basename(file) === 'results.json' ? basename(dirname(file)) : basename(file).replace(/\.json$/, '');
  const base = slug(name);
  let id = base;
  for (let i = 2; used.has(id); i++) id = `${base}-${i}`;
  used.add(id);
  return id;
}

/**
 * Reads result files (or folders holding results.json) and draws every plot. Throws XbarError
 * for a missing, malformed or other-version file; skips files of formats it does not know.
 */
export async function buildReport(paths: string[], opts: ReportOptions = {}): Promise<Report> {
  if (!paths.length) throw new XbarError('no result files: pass at least one results.json or a folder holding one');
  const maxMaps = opts.maxMaps ?? 12;
  const files = resultFilesOf(paths);
  const used = new Set<string>();
  const sections: Section[] = [];
  const skipped: string[] = [];
  for (const file of files) {
    const loaded = loadResult(file, maxMaps);
    if ('skipped' in loaded) {
      skipped.push(loaded.skipped);
      continue;
    }
    const data = extractResult(loaded);
    const s = loaded.kind.section(data, { id: sectionId(file, used), maxMaps });
    sections.push({ ...s, file, notes: [...loaded.notes, ...s.notes] });
  }
  if (!sections.length) throw new XbarError(`nothing to report: ${skipped.join(' ')}`);
  const todo = sections.flatMap((section) => section.plots.map((plot) => ({ section, plot, key: `${section.id}-${plot.id}` })));
  const plots: RenderedPlot[] = [];
  const warnings: string[] = [];
  for (const t of todo) {
    const r = await renderSVG(t.plot.spec, t.key);
    warnings.push(...r.warnings.map((w) => `${t.key}: ${w}`));
    plots.push({ ...t, svg: r.svg });
    opts.onPlot?.(plots.length, todo.length, t.plot.title);
  }
  const title = opts.title ?? (sections.length === 1 ? `xbar report: ${sections[0].title}` : 'xbar report');
  return { title, sections, plots, skipped, warnings };
}

export function reportHtml(r: Report, generated = new Date()): string {
  return reportPage({
    title: r.title,
    version: VERSION,
    generated: generated
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
    sections: r.sections,
    svgs: new Map(r.plots.map((p) => [p.key, p.svg])),
    skipped: r.skipped,
  });
}

/** Writes the report page atomically; returns its size in bytes. */
export function writeReport(r: Report, out: string): number {
  const html = reportHtml(r);
  writeFileAtomic(out, html);
  return Buffer.byteLength(html);
}

/** Writes every plot as `<dir>/<key>.svg`, or as PNG (drawn by headless Chromium at 2x). */
export async function exportPlots(
  r: Report,
  dir: string,
  format: 'svg' | 'png',
  onFile?: (done: number, total: number, file: string) => void,
): Promise<string[]> {
  const written: string[] = [];
  if (format === 'svg') {
    for (const p of r.plots) {
      const file = join(dir, `${p.key}.svg`);
      writeFileAtomic(file, `<?xml version="1.0" encoding="UTF-8"?>\n${p.svg}\n`);
      written.push(file);
      onFile?.(written.length, r.plots.length, file);
    }
    return written;
  }
  await withBrowser(async (page) => {
    for (const p of r.plots) {
      await page.setContent(`<!doctype html><html><body style="margin:0;background:white">${p.svg}</body></html>`);
      const png = await page.locator('svg').first().screenshot({ type: 'png' });
      const file = join(dir, `${p.key}.png`);
      writeFileAtomic(file, png);
      written.push(file);
      onFile?.(written.length, r.plots.length, file);
    }
  });
  return written;
}

/** A PNG screenshot of the report page as Chromium shows it: the whole page, or its top `height` CSS pixels. */
export async function screenshotReport(htmlFile: string, out: string, opts: { width?: number; height?: number } = {}): Promise<void> {
  await withBrowser(
    async (page) => {
      await page.goto(pathToFileURL(resolve(htmlFile)).href);
      const png = await page.screenshot({
        type: 'png',
        fullPage: !opts.height,
        ...(opts.height ? { clip: { x: 0, y: 0, width: opts.width ?? 1360, height: opts.height } } : {}),
      });
      writeFileAtomic(out, png);
    },
    { width: opts.width ?? 1360, height: opts.height ?? 900, scale: 1 },
  );
}
