import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../src/report/browser.js';
import { itWith } from '../optional.js';

/**
 * The main job (`npm start` = `xbar demo`) end to end, made small (6 chips per scenario, 40
 * corrector training chips): it trains, damages, recovers, and writes results.json, the defect
 * maps and report.html; the terminal table is the report's first table, number for number; the
 * report opens in Chromium with every plot drawn.
 */
const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'xbar-demo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const out = join(work, 'demo');
let run: { code: number | null; out: string; err: string };

beforeAll(() => {
  const r = spawnSync(process.execPath, [bin, 'demo', '--out', out, '--chips', '6', '--train-chips', '40', '--workers', '2'], {
    encoding: 'utf8',
    env: { ...process.env, FORCE_COLOR: '0' },
  });
  run = { code: r.status, out: r.stdout, err: r.stderr };
});

/** The rows of the report's first result table (after the overview in <nav>): cells as text. */
function htmlTable(html: string): string[][] {
  const table = /<table[\s\S]*?<\/table>/.exec(html.slice(html.indexOf('</nav>')))?.[0] ?? '';
  return [...table.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((m) =>
    [...m[1].matchAll(/<t[dh][^>]*>([\s\S]*?)<\/t[dh]>/g)].map((c) =>
      c[1]
        .replace(/<[^>]+>/g, '')
        .replace(/&amp;/g, '&')
        .trim(),
    ),
  );
}

describe('xbar demo (npm start)', () => {
  it('trains, damages, recovers and writes the results, the maps and the report', () => {
    expect(run.code, run.err).toBe(0);
    expect(run.out).toMatch(/test accuracy \d+\.\d\d% on 10000 images/);
    expect(run.out).toMatch(new RegExp(`Report: ${join(out, 'report.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(r.format).toBe('xbar-demo');
    expect(r.scenarios.map((s: { id: string }) => s.id)).toEqual(['variation', 'defects']);
    for (const s of r.scenarios) expect(s.chips).toHaveLength(6);
    // The defect chips are the ones after the corrector's training chips; each is recovered both ways.
    const defects = r.scenarios[1].chips;
    expect(defects.map((c: { chip: number }) => c.chip)).toEqual([40, 41, 42, 43, 44, 45]);
    for (const c of defects) {
      expect(c.faults).toMatch(/@layers=3$/);
      expect(Object.keys(c.recovered).sort()).toEqual(['compensation', 'corrector']);
    }
    // On these chips the corrector recovers a lot (mlp-paper: ~50% damaged -> ~91%).
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(defects.map((c: { recovered: { corrector: number } }) => c.recovered.corrector))).toBeGreaterThan(
      mean(defects.map((c: { damaged: number }) => c.damaged)) + 0.1,
    );
    expect(readdirSync(join(out, 'maps')).length).toBeGreaterThan(0);
    expect(existsSync(join(out, 'mlp-paper', 'model.json'))).toBe(true);
  });

  it("the terminal table is the report's summary table, cell for cell", () => {
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    const [head, ...rows] = htmlTable(html);
    expect(head).toEqual(['damage', 'chips', 'software', 'damaged', 'recovered', 'of software', 'method']);
    expect(rows).toHaveLength(3);
    const lines = run.out.split('\n');
    const start = lines.findIndex((l) => l.startsWith('damage '));
    for (const [k, row] of rows.entries()) {
      const printed = lines[start + 1 + k];
      // The terminal pads cells with spaces; the cells themselves are the same text.
      let at = 0;
      for (const cell of row) {
        const i = printed.indexOf(cell, at);
        expect(i, `${cell} in '${printed}'`).toBeGreaterThanOrEqual(at);
        at = i + cell.length;
      }
    }
  });

  itWith(['chromium'], 'the report opens in Chromium with every plot drawn and no console error', async () => {
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'xbar-chromium-demo-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath(),
      headless: true,
      args: CHROMIUM_ARGS,
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text());
      });
      page.on('pageerror', (e) => problems.push(e.message));
      await page.goto(pathToFileURL(join(out, 'report.html')).href);
      const figures = await page.$$eval('figure.plot', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return { id: f.id, width: box?.width ?? 0, marks: svg ? svg.querySelectorAll('path, line, rect').length : 0 };
        }),
      );
      // by type, spread, per chip, and at least one defect map
      expect(figures.length).toBeGreaterThanOrEqual(4);
      for (const f of figures) {
        expect(f.width, f.id).toBeGreaterThan(50);
        expect(f.marks, f.id).toBeGreaterThan(3);
      }
      expect(problems).toEqual([]);
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });
});
