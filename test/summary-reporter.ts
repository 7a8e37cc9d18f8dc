import type { Reporter, TestCase, TestModule } from 'vitest/node';
import type {} from './optional.js'; // its TaskMeta field (xbarSkip) for skipReason

/**
 * Ends the run with one plain line, 'tests: N passed, N failed, N skipped', that any CI can read.
 * A test that never ran because its file or an enclosing beforeAll failed counts as failed, not
 * skipped, and the line says how many of those there were. Above it, every skip's reason (a
 * missing optional part and the command that installs it: test/optional.ts), once per reason.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const n = { passed: 0, failed: 0, skipped: 0, blocked: 0 };
    const skips = new Map<string, number>();
    for (const m of modules)
      for (const t of m.children.allTests()) {
        const r = t.result();
        if (r.state === 'passed') n.passed++;
        else if (r.state === 'failed') n.failed++;
        else if (t.options.mode !== 'skip' && t.options.mode !== 'todo' && setupFailed(t)) n.blocked++;
        else {
          n.skipped++;
          const why = (r.state === 'skipped' && r.note) || skipReason(t) || `skipped in ${m.moduleId.split('/test/').at(-1)}`;
          skips.set(why, (skips.get(why) ?? 0) + 1);
        }
      }
    for (const [why, count] of skips) process.stdout.write(`\nskipped ${count} test(s): ${why}`);
    // A file that failed to load has no tests to count.
    const broken = modules.filter((m) => m.state() === 'failed' && m.children.allTests().next().done).length;
    const failed = n.failed + n.blocked + broken;
    const why = [
      n.blocked ? `${n.blocked} not run because a beforeAll or their file failed` : '',
      broken ? `${broken} file(s) failed to load` : '',
    ].filter(Boolean);
    process.stdout.write(
      `\ntests: ${n.passed} passed, ${failed} failed, ${n.skipped} skipped${why.length ? ` (${why.join('; ')})` : ''}\n`,
    );
  }
}

/** The reason test/optional.ts recorded on a suite around a skipped test. */
function skipReason(t: TestCase): string | undefined {
  for (let p: TestCase['parent'] = t.parent; p.type !== 'module'; p = p.parent) {
    const why = p.meta().xbarSkip;
    if (why) return why;
  }
  return undefined;
}

/** Whether a suite or the module around a test that did not run failed. */
function setupFailed(t: TestCase): boolean {
  for (let p: TestCase['parent'] = t.parent; ; p = p.parent) {
    if (p.state() === 'failed') return true;
    if (p.type === 'module') return false;
  }
}
