import type { TopLevelSpec } from 'vega-lite';

/** A table of the report: a caption, column heads and rows of already formatted cells. */
export interface Table {
  caption: string;
  columns: string[];
  rows: string[][];
}

/** One plot: a Vega-Lite spec, rendered to SVG for the report and for export. */
export interface Plot {
  /** Short name, unique within its section; the export file is `<section id>-<plot id>.svg|png`. */
  id: string;
  title: string;
  caption?: string;
  spec: TopLevelSpec;
  /** Drawn in the smaller grid with the other defect maps. */
  small?: boolean;
}

/** What the report shows of one result file. */
export interface Section {
  /** Unique within the report: the HTML anchor and the prefix of exported plot files. */
  id: string;
  /** The result's format, e.g. `xbar-simulate`. */
  format: string;
  title: string;
  file: string;
  /** Configuration and seeds, as label and value. */
  facts: [string, string][];
  tables: Table[];
  plots: Plot[];
  /** Things the reader should know: partial data, skipped maps, unknown fields. */
  notes: string[];
  /** One line for the report's overview table. */
  headline: string;
}

/** A defect map that sits beside a result (`maps/<point>/chip-<c>-layer-<l>.json`). */
export interface FaultMapFile {
  path: string;
  /** The folder under maps/ it came from ('' for maps/ itself): the sweep point, sanitised. */
  point: string;
  json: unknown;
  /** Why the file could not be read, when it could not. */
  error?: string;
}

/** A result file as read from disk, before a kind extracts what it shows. */
export interface ResultInput {
  file: string;
  json: Record<string, unknown>;
  maps: FaultMapFile[];
}

export interface BuildContext {
  /** Section id to use (unique in the report). */
  id: string;
  /** Most defect maps to draw for one result. */
  maxMaps: number;
}

/**
 * One kind of result file, identified by its `format` field. `extract` pulls out the data a
 * report shows (pure, tested per kind); `section` turns it into facts, tables and plots.
 */
export interface ReportKind<D> {
  format: string;
  /** What the kind is, for the overview and messages. */
  label: string;
  /** Format versions this xbar reads. */
  versions: readonly number[];
  /** Throws XbarError naming the file and the field when the file is malformed. */
  extract(input: ResultInput): D;
  section(data: D, ctx: BuildContext): Section;
}

// biome-ignore lint/suspicious/noExplicitAny: the registry holds kinds of different data types
export type AnyKind = ReportKind<any>;
