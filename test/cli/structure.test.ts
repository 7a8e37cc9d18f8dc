import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

// The command line only parses flags, calls one library function and prints (docs/architecture.md):
// a command module takes what it shares with other commands from options.ts alone, and only the
// entry, main.ts, names the command modules (to register them).
const CLI = join(import.meta.dirname, '../../src/cli');
const SHARED = new Set(['options.ts']);
const ENTRY = 'main.ts';

const sources = readdirSync(CLI)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ file: f, text: readFileSync(join(CLI, f), 'utf8') }));

/**
 * Every module specifier a file names: static imports and exports, and dynamic import(); with
 * `runtime`, only those loaded when the file runs (not `import type`, which TypeScript erases).
 */
function specifiers(text: string, runtime = false): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(import\s+type\b|import|export)\b[^'"]*?\bfrom\s*['"]([^'"]+)['"]/g))
    if (!(runtime && m[1].startsWith('import') && /^import\s+type/.test(m[1]))) out.push(m[2]);
  for (const m of text.matchAll(/\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

describe('src/cli structure', () => {
  it('finds the command modules and their imports', () => {
    expect(sources.map((s) => s.file)).toEqual(expect.arrayContaining([ENTRY, 'options.ts', 'simulate.ts', 'train.ts']));
    const simulate = sources.find((s) => s.file === 'simulate.ts');
    expect(specifiers(simulate?.text ?? '')).toContain('./options.js');
  });

  it('no command module imports another command module', () => {
    const offending: string[] = [];
    for (const { file, text } of sources) {
      if (file === ENTRY) continue;
      for (const spec of specifiers(text)) {
        if (!spec.startsWith('./')) continue; // the library (../) and packages are fine
        const target = spec.slice(2).replace(/\.js$/, '.ts');
        if (!SHARED.has(target)) offending.push(`${file} imports ${spec}`);
      }
    }
    expect(offending).toEqual([]);
  });
  it('folders import only from the folders below them (docs/architecture.md)', () => {
    const order = [
      'core',
      'data',
      'faults',
      'nn',
      'device',
      'onnx',
      'crossbar',
      'spice',
      'mitigation',
      'cost',
      'report',
      'cluster',
      'study',
      'system',
      'cli',
    ];
    const src = join(CLI, '..');
    // A new folder takes its place in the order (and in docs/architecture.md) before it is used.
    const folders = readdirSync(src, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !order.includes(f))).toEqual([]);
    const offending: string[] = [];
    for (const folder of order) {
      const walk = (dir: string): void => {
        for (const e of readdirSync(dir, { withFileTypes: true })) {
          const path = join(dir, e.name);
          if (e.isDirectory()) walk(path);
          else if (e.name.endsWith('.ts'))
            for (const spec of specifiers(readFileSync(path, 'utf8'))) {
              if (!spec.startsWith('.')) continue;
              const target = resolve(dirname(path), spec)
                .slice(src.length + 1)
                .split('/')[0];
              if (order.indexOf(target) > order.indexOf(folder)) offending.push(`${path.slice(src.length + 1)} imports ${spec}`);
            }
        }
      };
      walk(join(src, folder));
    }
    expect(offending).toEqual([]);
  });
  it('the library does not import the command line', () => {
    const offending: string[] = [];
    const walk = (dir: string, rel: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, e.name);
        const r = `${rel}/${e.name}`;
        if (e.isDirectory()) {
          if (r !== 'src/cli') walk(path, r);
        } else if (e.name.endsWith('.ts'))
          for (const spec of specifiers(readFileSync(path, 'utf8'))) if (/(^|\/)cli\//.test(spec)) offending.push(`${r} imports ${spec}`);
      }
    };
    walk(join(CLI, '..'), 'src');
    expect(offending).toEqual([]);
  });

  it('every command module stays small: flags, one library call, printing', () => {
    const long = sources.map((s) => ({ file: s.file, lines: s.text.split('\n').length })).filter((s) => s.lines > 250);
    expect(long).toEqual([]);
  });
});
