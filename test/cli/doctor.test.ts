import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PARTS } from '../../src/system/parts-node.js';

/** `xbar doctor` lists every optional part, and names the install command of a missing one. */
const bin = resolve(import.meta.dirname, '../../dist/cli/main.js');
const work = mkdtempSync(join(tmpdir(), 'xbar-doctor-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const doctor = (env: Record<string, string>, ...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, 'doctor', ...args], { encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
};

describe('xbar doctor', () => {
  it('lists every part, present or not, as JSON', () => {
    const r = doctor({}, '--json');
    expect(r.code, r.err).toBe(0);
    const parts = JSON.parse(r.out).parts as { id: string; present: boolean; install: string }[];
    expect(parts.map((p) => p.id)).toEqual(PARTS.map((p) => p.id));
    for (const p of parts) expect(typeof p.present).toBe('boolean');
  });

  it('a PATH without ngspice: ngspice is missing, with its install command; the rest unchanged', () => {
    // A PATH holding only node: ngspice (on /usr/bin) is hidden, nothing else the probes use is on PATH.
    const onlyNode = join(work, 'bin');
    rmSync(onlyNode, { recursive: true, force: true });
    spawnSync('mkdir', ['-p', onlyNode]);
    symlinkSync(process.execPath, join(onlyNode, 'node'));
    const full = JSON.parse(doctor({}, '--json').out).parts as { id: string; present: boolean }[];
    const hidden = doctor({ PATH: onlyNode }, '--json');
    expect(hidden.code, hidden.err).toBe(0);
    const parts = JSON.parse(hidden.out).parts as { id: string; present: boolean }[];
    expect(parts.find((p) => p.id === 'ngspice')?.present).toBe(false);
    for (const p of parts) if (p.id !== 'ngspice') expect(p.present, p.id).toBe(full.find((f) => f.id === p.id)?.present);
    const text = doctor({ PATH: onlyNode });
    expect(text.out).toMatch(/^MISSING\s+ngspice\s+ngspice not found on PATH$/m);
    expect(text.out).toMatch(/install: bash scripts\/install-system-deps\.sh spice/);
    expect(text.out).toMatch(/part\(s\) the test suite needs are missing/);
  });

  it('a missing Chromium (XBAR_CHROMIUM elsewhere) is named with its install command', () => {
    const r = doctor({ XBAR_CHROMIUM: join(work, 'no-chromium') });
    expect(r.out).toMatch(/^MISSING\s+Chromium \(headless\)\s+no .*no-chromium$/m);
    expect(r.out).toMatch(/install: bash scripts\/install-system-deps\.sh browser/);
  });
});
