import { afterEach, describe, expect, it, vi } from 'vitest';
import { etaSeconds, formatEta, HEARTBEAT_MS, makeProgress } from '../../src/core/progress-node.js';

/** A fake stderr: what was written, and whether it is a terminal. */
function sink(isTTY: boolean) {
  const lines: string[] = [];
  const stream = { isTTY, write: (s: string) => lines.push(s), columns: 80, on() {}, removeListener() {} };
  return { lines, stream: stream as unknown as NodeJS.WriteStream };
}

afterEach(() => vi.useRealTimers());

describe('progress', () => {
  it('gives no ETA before a few units and 2 s, then the rate so far', () => {
    expect(etaSeconds(1, 100, 60_000)).toBeNull();
    expect(etaSeconds(5, 100, 1_000)).toBeNull();
    // 5 of 100 in 10 s: 190 s left, not the "0s" a few fast updates gave.
    expect(etaSeconds(5, 100, 10_000)).toBeCloseTo(190);
    expect(formatEta(null)).toBe('eta --');
    expect(formatEta(190)).toBe('eta 3m10s');
    expect(formatEta(7300)).toBe('eta 2h02m');
  });

  it('off a terminal, prints a status line at least every 10 s while work runs', () => {
    vi.useFakeTimers();
    let t = 0;
    const { lines, stream } = sink(false);
    const p = makeProgress(false, stream, () => t);
    p.start(100, 'chips');
    // A slow first chip, on worker threads: the event loop is free, the timer speaks.
    t = HEARTBEAT_MS;
    vi.advanceTimersByTime(HEARTBEAT_MS);
    expect(lines).toEqual(['chips: 0/100 (0%) eta --\n']);
    // Units finishing on the main thread (no timer can run): the update speaks after 10 s.
    for (let d = 1; d <= 9; d++) {
      t = HEARTBEAT_MS + d * 2_000;
      p.update(d, `chip ${d - 1}`);
    }
    expect(lines.length).toBe(2);
    // 5 of 100 after 20 s: 380 s to go.
    expect(lines[1]).toMatch(/^chips: 5\/100 \(5%\) eta 6m20s chip 4\n$/);
    p.stop();
    vi.advanceTimersByTime(5 * HEARTBEAT_MS);
    expect(lines.length).toBe(2);
  });

  it('on a terminal, the bar shows our ETA', () => {
    let t = 0;
    const { lines, stream } = sink(true);
    const p = makeProgress(false, stream, () => t);
    p.start(100, 'chips');
    p.update(1);
    expect(lines.join('')).toContain('eta --');
    t = 10_000;
    p.update(5);
    p.stop();
    expect(lines.join('')).toMatch(/eta 3m10s/);
  });

  it('on a terminal, never hides the cursor: a Ctrl-C during a bar leaves the terminal as it was', () => {
    const { lines, stream } = sink(true);
    const p = makeProgress(false, stream);
    p.start(10, 'epochs');
    p.update(3, 'loss 0.5');
    // Killed here: no stop() runs. Nothing written may have hidden the cursor (ESC [?25l).
    expect(lines.join('')).not.toContain('\x1b[?25l');
    expect(lines.join('')).toContain('epochs');
  });
});
