import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * CI must fail whenever the README would fail a new user: .ci/run runs exactly the README's
 * set-up and test commands, in order, and nothing else (no install step before them).
 */
const root = resolve(import.meta.dirname, '..');
const read = (f: string) => readFileSync(join(root, f), 'utf8');

/** The commands of the README's first sh block, without comments. */
function readmeCommands(): string[] {
  const block = /```sh\n([\s\S]*?)```/.exec(read('README.md'))?.[1] ?? '';
  return block
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

describe('.ci/run and the README', () => {
  it('the README starts with the set-up, main-job and test commands', () => {
    expect(readmeCommands()).toEqual(['npm ci', 'npm start', 'npm test']);
  });

  it('.ci/run runs the README set-up then test commands and nothing else', () => {
    const commands = read('.ci/run')
      .split('\n')
      .map((l) => l.replace(/#.*$/, '').trim())
      .filter((l) => l && !l.startsWith('set ') && !/^cd "\$\(dirname "\$0"\)\/\.\."$/.test(l));
    const readme = readmeCommands();
    expect(commands).toEqual([readme[0], readme[2]]);
  });

  it('the set-up command installs the system packages the tests need (npm ci runs the install script)', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.scripts.install).toMatch(/^node scripts\/install-system\.mjs && /);
    expect(read('scripts/install-system.mjs')).toMatch(/install-system-deps\.sh'\), \[?|\[script, 'test'\]/);
    expect(read('scripts/install-system-deps.sh')).toMatch(/test\) pkgs\+=\(libopenblas-dev dataset-fashion-mnist ngspice chromium/);
  });
});
