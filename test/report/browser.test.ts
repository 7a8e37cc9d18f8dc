import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHROMIUM_ARGS, chromiumPath } from '../../src/report/browser.js';
import { describeWith } from '../optional.js';
import { xbar } from '../xbar-cli.js';

/**
 * End to end: a small real run (train, two simulations with a sweep and defect maps), `xbar
 * report` on it and on corrector / CorrectNet / SPICE results, then the page opened in headless
 * Chromium: every plot drawn, no console error, no network request; a screenshot goes to
 * test-artifacts/report.png. Needs Debian's chromium (bash scripts/install-system-deps.sh browser).
 */

const root = resolve(import.meta.dirname, '../..');

const work = mkdtempSync(join(tmpdir(), 'xbar-report-e2e-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeWith(['chromium'], 'xbar report in headless Chromium', () => {
  const model = join(work, 'model');
  const sweep = join(work, 'sweep');
  const layers = join(work, 'layers');
  const extra = join(work, 'extra');
  const html = join(work, 'report.html');
  const fixtures = join(import.meta.dirname, 'fixtures');
  let summary: { plots: number; results: { plots: number }[] };

  beforeAll(() => {
    let r = xbar('train', '--model', 'mlp-paper', '--epochs', '4', '--limit-train', '3000', '--out', model, '--quiet');
    expect(r.code, r.err).toBe(0);
    const sim = ['simulate', '-m', model, '--chips', '6', '--limit-test', '500', '--workers', '1', '--quiet'];
    r = xbar(...sim, '--sweep', 'sigma=0,0.1,0.3', '--out', sweep);
    expect(r.code, r.err).toBe(0);
    r = xbar(
      ...sim,
      '--sigma',
      '0.05',
      '--faults',
      'circle:radius=0.3,density=0.3+random:sa0=0.02',
      '--sweep',
      'layers=0;1;all',
      '--out',
      layers,
    );
    expect(r.code, r.err).toBe(0);
    mkdirSync(extra);
    writeFileSync(join(extra, 'future.json'), JSON.stringify({ format: 'xbar-from-the-future', version: 1 }));
  });

  it('builds the report from the run, the unknown file skipped with a message', () => {
    // The other kinds: results of small real runs of xbar correctnet, correct study / train and spice compare.
    const r = xbar(
      'report',
      sweep,
      join(layers, 'results.json'),
      fixtures,
      join(extra, 'future.json'),
      '--out',
      html,
      '--title',
      'xbar end-to-end report',
      '--json',
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/^skipped: .*future\.json: format 'xbar-from-the-future' is not one this xbar/);
    expect(r.err).not.toMatch(/warning/);
    summary = JSON.parse(r.out);
    // folder order: correctnet, corrector study, corrector train, simulate --time (accuracy vs time, device spread), spice
    expect(summary.results.map((s) => s.plots)).toEqual([1, expect.any(Number), 7, 4, 3, 2, 3]);
    // the layers run has its category plot, the stuck-weights scatter and defect maps of every point
    expect(summary.results[1].plots).toBeGreaterThanOrEqual(5);
  });

  it('renders every plot in Chromium with no console error and no network access', async () => {
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'xbar-chromium-test-'));
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: chromiumPath(),
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1360, height: 900 },
    });
    try {
      const page = context.pages()[0] ?? (await context.newPage());
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) requests.push(req.url());
      });
      await page.goto(pathToFileURL(html).href);
      const figures = await page.$$eval('figure.plot', (figs) =>
        figs.map((f) => {
          const svg = f.querySelector('svg');
          const box = svg?.getBoundingClientRect();
          return {
            id: f.id,
            width: box?.width ?? 0,
            height: box?.height ?? 0,
            marks: svg
              ? svg.querySelectorAll('g.mark-rect path, g.mark-line path, g.mark-area path, g.mark-symbol path, g.mark-rule line').length
              : 0,
            text: svg?.textContent ?? '',
          };
        }),
      );
      expect(figures).toHaveLength(summary.plots);
      for (const f of figures) {
        expect(f.width, f.id).toBeGreaterThan(50);
        expect(f.height, f.id).toBeGreaterThan(50);
        expect(f.marks, f.id).toBeGreaterThan(0);
        expect(f.text, f.id).not.toMatch(/NaN|undefined/);
      }
      expect(await page.$$eval('section[data-format]', (s) => s.map((x) => x.getAttribute('data-format')))).toEqual([
        'xbar-simulate',
        'xbar-simulate',
        'xbar-correctnet',
        'xbar-corrector',
        'xbar-corrector',
        'xbar-simulate',
        'xbar-spice-compare',
      ]);
      expect(await page.locator('#skipped').textContent()).toContain('xbar-from-the-future');
      expect(problems).toEqual([]);
      expect(requests).toEqual([]);
      mkdirSync(join(root, 'test-artifacts'), { recursive: true });
      await page.screenshot({ path: join(root, 'test-artifacts', 'report.png'), fullPage: true });
    } finally {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    }
  });

  it('exports the plots as PNG and takes a screenshot of the report from the command line', () => {
    const shot = join(work, 'shot.png');
    let r = xbar('report', sweep, '--out', join(work, 'small.html'), '--screenshot', shot, '--screenshot-height', '600');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote .*small\.html \(\d+ kB\): 1 result\(s\), 1 plot\(s\), 1 table\(s\); screenshot .*shot\.png\n$/);
    const s = readFileSync(shot);
    expect([s.readUInt32BE(16), s.readUInt32BE(20)]).toEqual([1360, 600]);
    const dir = join(work, 'png');
    r = xbar('report', sweep, '--format', 'png', '--out', dir);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^wrote 1 png file\(s\) to /);
    const pngs = readdirSync(dir);
    expect(pngs).toEqual(['sweep-accuracy-vs-sigma.png']);
    const png = readFileSync(join(dir, pngs[0]));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(800); // drawn at 2x
  });

  it('a missing or damaged result is one line naming the file, exit code 1', () => {
    const missing = join(work, 'nothing', 'results.json');
    let r = xbar('report', missing, '--out', join(work, 'x.html'));
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `xbar: error: ${missing}: no such file or folder: pass results.json of \`xbar simulate --out\`, or the result of \`xbar correct\`, \`xbar correctnet\`, \`xbar spice compare\` or \`xbar cost --out\`\n`,
    );
    const damaged = join(work, 'damaged.json');
    writeFileSync(damaged, readFileSync(join(sweep, 'results.json'), 'utf8').slice(0, 200));
    r = xbar('report', damaged, '--out', join(work, 'x.html'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(
      new RegExp(
        `^xbar: error: ${damaged}: not valid JSON \\(.*\\); it is damaged or was not written by xbar: re-run the command that wrote it\\n$`,
      ),
    );
    expect(existsSync(join(work, 'x.html'))).toBe(false);
  });
});
