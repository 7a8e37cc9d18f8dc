import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadParts, type PartIn } from '../cluster/parts-node.js';
import { XbarError } from '../core/errors.js';
import type { Progress } from '../core/progress.js';
import { makeProgress } from '../core/progress-node.js';
import { listFiles } from '../core/run-manifest.js';
import { mergeCorrectnetParts } from './correctnet-node.js';
import type { HeldOutSummary } from './corrector.js';
import { mergeCorrectEvalParts, mergeCorrectTrainParts } from './corrector-node.js';
import { inRunFolderSync, type RunFolder } from './run-folder.js';
import { simulateFiles } from './simulate.js';
import { mergeSimulateParts, type SweepRow } from './simulate-part.js';

export interface MergeResult {
  command: string;
  shards: number;
  out: string;
  /** The merged rows (simulate): what the unsharded run would print. */
  rows: SweepRow[];
  /** The merged held-out summary (correct eval). */
  heldOut?: HeldOutSummary;
  /** The corrector trained on the merged training chips (correct train): what the unsharded run returns. */
  corrector?: ReturnType<typeof mergeCorrectTrainParts>;
  /** The merged study (correctnet): what the unsharded run returns. */
  correctnet?: Awaited<ReturnType<typeof mergeCorrectnetParts>>;
}

/**
 * `xbar merge PARTS... --out DIR`: checks that the parts are the shards 1..N of one run
 * (loadParts) and writes the files the unsharded run writes, with the same writer, into a run
 * folder at --out (whole or absent).
 */
export async function mergeRun(args: string[], out: string, progress: Progress = makeProgress(true)): Promise<MergeResult> {
  const parts = loadParts(args);
  const { command } = parts[0].part;
  switch (command) {
    case 'simulate':
      return { command, shards: parts.length, out, rows: mergeSimulate(parts, out) };
    case 'correct eval':
      return { command, shards: parts.length, out, rows: [], heldOut: mergeCorrectEvalParts(parts, out) };
    case 'correct train':
      return { command, shards: parts.length, out, rows: [], corrector: mergeCorrectTrainParts(parts, out, progress) };
    case 'correctnet':
      return { command, shards: parts.length, out, rows: [], correctnet: await mergeCorrectnetParts(parts, out, progress) };
    default:
      throw new XbarError(
        `${parts[0].dir} is a part of xbar ${command}, which this xbar cannot merge: merge it with the xbar that wrote it`,
      );
  }
}

function mergeSimulate(parts: PartIn[], out: string): SweepRow[] {
  const { data, rows, configs } = mergeSimulateParts(parts);
  const { config, inputs } = parts[0].part;
  const runOptions = { out, command: 'simulate', key: { merge: config, inputs }, inputs: parts.map((p) => p.dir) };
  inRunFolderSync(runOptions, (run) => {
    if (!run) return;
    // The files the unsharded run writes, by the same writer (its command: the options without placement).
    const files = simulateFiles({ ...config, out }, { rows, model: String(config.model), dataset: data.dataset, configs });
    for (const [name, text] of Object.entries(files)) run.write(name, text);
    copyMaps(parts, run);
  });
  return rows;
}

/** The defect maps each shard drew of its own chips, into the merged run's maps/. */
function copyMaps(parts: PartIn[], run: RunFolder): void {
  for (const { dir } of parts) {
    const maps = join(dir, 'maps');
    if (!existsSync(maps)) continue;
    for (const f of listFiles(maps)) {
      const to = run.path('maps', f);
      if (existsSync(to))
        throw new XbarError(`${dir} and another part both hold the defect map maps/${f}: the parts overlap; run the shards again`);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(join(maps, f), to);
    }
  }
}
