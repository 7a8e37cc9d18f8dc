import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

/**
 * Vega-Lite spec -> SVG text, headless: Vega's View with no renderer, `toSVG()`. Data is inline,
 * and the loader refuses anything else, so rendering never reaches the network.
 */

const noNetwork = vega.loader();
noNetwork.load = (uri: string) => Promise.reject(new Error(`xbar report plots load no external data (${uri})`));

export interface Rendered {
  svg: string;
  /** Warnings from Vega-Lite or Vega (a plot that drops data, a bad encoding): a bug in the spec. */
  warnings: string[];
}

/**
 * Renders a spec to a standalone SVG. `idPrefix` makes the ids inside (clip paths, gradients)
 * unique, so that many SVGs can sit inline in one HTML page.
 */
export async function renderSVG(spec: TopLevelSpec, idPrefix: string): Promise<Rendered> {
  const warnings: string[] = [];
  const logger = {
    level: (() => logger) as unknown as vega.LoggerInterface['level'],
    error: (...a: unknown[]) => void warnings.push(`error: ${a.map(String).join(' ')}`),
    warn: (...a: unknown[]) => void warnings.push(a.map(String).join(' ')),
    info: () => logger,
    debug: () => logger,
  };
  const vg = compile(spec, { logger } as unknown as Parameters<typeof compile>[1]).spec;
  const view = new vega.View(vega.parse(vg), { renderer: 'none', loader: noNetwork, logger: logger as unknown as vega.LoggerInterface });
  try {
    const svg = await view.toSVG();
    return { svg: prefixIds(svg, idPrefix), warnings };
  } finally {
    view.finalize();
  }
}

/** Prefixes every id="x" and its references url(#x) / href="#x". */
export function prefixIds(svg: string, prefix: string): string {
  const p = prefix.replace(/[^\w-]/g, '-');
  return svg
    .replace(/\bid="([^"]+)"/g, (_, id) => `id="${p}-${id}"`)
    .replace(/url\(#([^)]+)\)/g, (_, id) => `url(#${p}-${id})`)
    .replace(/href="#([^"]+)"/g, (_, id) => `href="#${p}-${id}"`);
}
