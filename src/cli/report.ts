import { statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { XbarError } from '../core/errors.js';
import { makeProgress } from '../core/progress-node.js';
import { choiceOption, intOption, output } from './options.js';

export interface ReportCliOptions {
  out: string;
  format?: 'html' | 'svg' | 'png';
  title?: string;
  maxMaps?: number;
  screenshot?: string;
  screenshotHeight?: number;
  json?: boolean;
  quiet?: boolean;
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} kB`;

export async function runReport(paths: string[], o: ReportCliOptions): Promise<Record<string, unknown>> {
  const format = o.format ?? 'html';
  if (format === 'html' && !o.out.endsWith('.html'))
    throw new XbarError(`--out ${o.out} must end in .html (or use --format svg|png --out DIR to export the plots)`);
  if (format !== 'html' && o.out.endsWith('.html'))
    throw new XbarError(`--format ${format} writes one file per plot: --out names a folder, not ${o.out}`);
  if (o.screenshot && format !== 'html') throw new XbarError('--screenshot goes with the HTML report (--format html)');
  if (o.screenshot && !o.screenshot.endsWith('.png')) throw new XbarError(`--screenshot ${o.screenshot} must end in .png`);
  const progress = makeProgress(Boolean(o.quiet || o.json));
  // Loaded here, not at start-up: Vega takes a third of a second to import, which every other command would pay.
  const { buildReport, exportPlots, screenshotReport, writeReport } = await import('../report/index.js');
  const report = await buildReport(paths, {
    title: o.title,
    maxMaps: o.maxMaps,
    onPlot: (done, total, label) => {
      if (done === 1) progress.start(total, 'plots');
      progress.update(done, label);
      if (done === total) progress.stop();
    },
  });
  // Skipped files and rendering warnings go to stderr even with --json: the user must see what is missing.
  if (!o.quiet)
    for (const line of [...report.skipped.map((s) => `skipped: ${s}`), ...report.warnings.map((w) => `warning: ${w}`)])
      process.stderr.write(`${line}\n`);
  const summary: Record<string, unknown> = {
    out: o.out,
    format,
    results: report.sections.map((s) => ({ file: s.file, format: s.format, title: s.title, headline: s.headline, plots: s.plots.length })),
    plots: report.plots.length,
    tables: report.sections.reduce((a, s) => a + s.tables.length, 0),
    skipped: report.skipped,
  };
  if (format === 'html') {
    summary.bytes = writeReport(report, o.out);
    if (o.screenshot) {
      await screenshotReport(o.out, o.screenshot, { height: o.screenshotHeight });
      summary.screenshot = o.screenshot;
    }
  } else {
    if (statSync(o.out, { throwIfNoEntry: false })?.isFile())
      throw new XbarError(`--out ${o.out} is a file: --format ${format} needs a folder`);
    progress.start(report.plots.length, format);
    const files = await exportPlots(report, o.out, format, (done, _total, file) => progress.update(done, file));
    progress.stop();
    summary.files = files;
  }
  return summary;
}

export function registerReport(p: Command): void {
  // No numeric work here: a report only reads result files, so no --kernels/--threads.
  output(
    p
      .command('report')
      .description(
        'gather result files (simulate, corrector, CorrectNet, SPICE comparison) into one self-contained HTML report with plots, or export the plots as SVG/PNG',
      )
      .argument('<results...>', 'result files (results.json of xbar simulate --out, ...) or the folders holding them')
      .requiredOption('-o, --out <file|dir>', 'the report (.html), or the folder for --format svg|png')
      .addOption(
        new Option('--format <kind>', 'html: one page; svg or png: one file per plot (png needs chromium)')
          .argParser(choiceOption(['html', 'svg', 'png'] as const))
          .default('html'),
      )
      .option('--title <text>', 'title of the report')
      .option('--max-maps <n>', 'most defect maps drawn per result', intOption(0, 1000), 12)
      .option('--screenshot <png>', 'also save a PNG screenshot of the report as headless Chromium shows it')
      .option(
        '--screenshot-height <px>',
        'only the top of the page, this many CSS pixels (default: the whole page)',
        intOption(100, 100_000),
      ),
  ).action(async (paths: string[], o: ReportCliOptions) => {
    const s = await runReport(paths, o);
    if (o.json) {
      console.log(JSON.stringify(s, null, 2));
      return;
    }
    const results = s.results as unknown[];
    const skipped = (s.skipped as string[]).length;
    const what = `${results.length} result(s), ${s.plots} plot(s), ${s.tables} table(s)${skipped ? `, ${skipped} file(s) skipped` : ''}`;
    if (s.format === 'html')
      console.log(`wrote ${o.out} (${kb(s.bytes as number)}): ${what}${s.screenshot ? `; screenshot ${s.screenshot}` : ''}`);
    else console.log(`wrote ${(s.files as string[]).length} ${s.format} file(s) to ${o.out}: ${what}`);
  });
}
