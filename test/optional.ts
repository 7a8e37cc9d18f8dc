import { describe, it } from 'vitest';
import { nativeUnavailableReason } from '../src/core/kernels-node.js';
import { type PartId, partById, probe } from '../src/system/parts-node.js';

/**
 * Tests that need an optional part of the machine (ngspice, Chromium, Fashion-MNIST, the native
 * kernels, the ONNX checker). Outside CI a missing part skips them, and the reason (with the
 * install command) is printed in the run's closing summary (test/summary-reporter.ts). Under
 * CI=true a missing part fails the run instead: CI runs on a fresh machine after the README's
 * set-up command, so a skip there would hide a set-up that does not install what it should.
 */
export const IN_CI = ['true', '1', 'yes'].includes(String(process.env.CI ?? '').toLowerCase());

declare module 'vitest' {
  interface TaskMeta {
    /** Why a suite was skipped (a missing optional part and its install command): for the summary. */
    xbarSkip?: string;
  }
}

const cache = new Map<PartId, string | null>();

/** Why the part is missing ('ngspice not found on PATH; install: ...'), or null when it is here. */
export function missing(id: PartId): string | null {
  if (!cache.has(id)) {
    let why: string | null;
    if (id === 'native') {
      const r = nativeUnavailableReason();
      why = r ? `native addon not built (${r})` : null;
    } else {
      const p = probe(id);
      why = p.ok ? null : p.detail;
    }
    const part = partById(id);
    cache.set(id, why && `${part.what} missing: ${why}; install: ${part.install}`);
  }
  return cache.get(id) ?? null;
}

function reasons(parts: PartId[]): string | null {
  const why = parts.map(missing).filter((w): w is string => Boolean(w));
  return why.length ? why.join('; ') : null;
}

/**
 * `describe(name, fn)` when every part is here. Otherwise: in CI one failing test naming the
 * install command; elsewhere the suite is skipped, its reason recorded for the summary.
 */
export function describeWith(parts: PartId[], name: string, fn: () => void): void {
  const why = reasons(parts);
  if (!why) describe(name, fn);
  else if (IN_CI)
    describe(name, () => {
      it('has the optional parts it needs', () => {
        throw new Error(`CI must have every optional part: ${why}`);
      });
    });
  else describe.skip(name, { meta: { xbarSkip: why } }, fn);
}

/** `it(name, fn)` under the same rule, for one test. */
export function itWith(parts: PartId[], name: string, fn: () => void | Promise<void>, timeout?: number): void {
  itWhen(reasons(parts), name, fn, timeout);
}

/** `it(name, fn)` unless `why` names something missing (not one of the parts: e.g. ../shared). */
export function itWhen(why: string | null, name: string, fn: () => void | Promise<void>, timeout?: number): void {
  if (!why) it(name, fn, timeout);
  else if (IN_CI)
    it(name, () => {
      throw new Error(`CI must have every optional part: ${why}`);
    });
  else it(name, (ctx) => ctx.skip(why));
}
