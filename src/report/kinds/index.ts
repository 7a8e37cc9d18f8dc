import type { AnyKind } from '../types.js';
import { correctnetKind } from './correctnet.js';
import { correctorKind } from './corrector.js';
import { costKind } from './cost.js';
import { demoKind } from './demo.js';
import { faultMapKind } from './fault-map.js';
import { simulateKind } from './simulate.js';
import { spiceCompareKind } from './spice-compare.js';

/**
 * Every kind of result the report reads, by its `format` field. To report a new kind: write a
 * module with `extract` (file -> data, pure) and `section` (data -> facts, tables, plots), and
 * add it here.
 */
const kinds: AnyKind[] = [simulateKind, correctorKind, correctnetKind, spiceCompareKind, faultMapKind, demoKind, costKind];

export function kindOf(format: string): AnyKind | undefined {
  return kinds.find((k) => k.format === format);
}

export const knownFormats = (): string[] => kinds.map((k) => k.format);
