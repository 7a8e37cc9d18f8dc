import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { XbarError } from '../../src/core/errors.js';
import { listFiles, verifyRunFolder } from '../../src/core/run-manifest.js';
import { checkOut, inRunFolderSync, RunFolder } from '../../src/study/run-folder.js';

const work = mkdtempSync(join(tmpdir(), 'xbar-runfolder-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(work, `out${n++}`);
const write = (run: RunFolder, files: Record<string, string>) => {
  for (const [f, text] of Object.entries(files)) run.write(f, text);
};
const contents = (dir: string) => Object.fromEntries(listFiles(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
const siblings = (out: string) => readdirSync(join(out, '..')).filter((f) => f.startsWith(`.${out.split('/').pop()}.xbar-`));

describe('run folder', () => {
  it('a committed run replaces the old one whole: no file of the old run is left', () => {
    const out = fresh();
    inRunFolderSync({ out, command: 't', key: 1 }, (run) => write(run as RunFolder, { 'a.txt': 'old', 'maps/x.json': '{}' }));
    inRunFolderSync({ out, command: 't', key: 2 }, (run) => write(run as RunFolder, { 'a.txt': 'new' }));
    expect(contents(out)).toMatchObject({ 'a.txt': 'new' });
    expect(existsSync(join(out, 'maps'))).toBe(false);
    expect(verifyRunFolder(out)).toBe(true);
    expect(siblings(out)).toEqual([]);
  });

  it('a failed run leaves the old run as it was, and no staging folder', () => {
    const out = fresh();
    inRunFolderSync({ out, command: 't', key: 1 }, (run) => write(run as RunFolder, { 'a.txt': 'old' }));
    const before = contents(out);
    expect(() =>
      inRunFolderSync({ out, command: 't', key: 2 }, (run) => {
        write(run as RunFolder, { 'a.txt': 'new', 'b.txt': 'new' });
        throw new XbarError('stop');
      }),
    ).toThrow('stop');
    expect(contents(out)).toEqual(before);
    expect(siblings(out)).toEqual([]);
  });

  it('any set of files, committed over any other, verifies and holds exactly the new files (property)', () => {
    const name = fc.stringMatching(/^[a-z]{1,6}(\/[a-z]{1,6})?\.(json|csv)$/);
    const files = fc.dictionary(name, fc.string({ maxLength: 20 }), { maxKeys: 6 });
    fc.assert(
      fc.property(files, files, (a, b) => {
        const out = fresh();
        inRunFolderSync({ out, command: 't', key: 'a' }, (run) => write(run as RunFolder, a));
        inRunFolderSync({ out, command: 't', key: 'b' }, (run) => write(run as RunFolder, b));
        const got = contents(out);
        delete got['manifest.json'];
        expect(got).toEqual(b);
        expect(verifyRunFolder(out)).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('refuses a folder whose files do not belong to one run, with one line', () => {
    const out = fresh();
    inRunFolderSync({ out, command: 't', key: 1 }, (run) => write(run as RunFolder, { 'results.json': '{}', 'chips.csv': 'a' }));
    writeFileSync(join(out, 'stray.svg'), '<svg/>');
    expect(() => verifyRunFolder(out)).toThrow(/do not belong to one run \(stray.svg is not one of the run's files\)/);
    rmSync(join(out, 'stray.svg'));
    writeFileSync(join(out, 'chips.csv'), 'b');
    expect(() => verifyRunFolder(out)).toThrow(/chips.csv changed after the run wrote it/);
    rmSync(join(out, 'chips.csv'));
    expect(() => verifyRunFolder(out)).toThrow(/chips.csv is missing/);
    const legacy = fresh();
    mkdirSync(legacy);
    writeFileSync(join(legacy, 'results.json'), '{}');
    expect(verifyRunFolder(legacy)).toBe(false);
  });

  it('resumes an interrupted run of the same key; another key starts empty but may reuse its steps', () => {
    const out = fresh();
    const a = new RunFolder({ out, command: 't', key: 'A', resumable: true });
    a.store('step', { x: 1 }, 42);
    a.write('partial.txt', 'half');
    a.abandon(true); // as if killed: the staging folder stays
    const again = new RunFolder({ out, command: 't', key: 'A', resumable: true });
    expect(again.resumed).toBe(true);
    expect(existsSync(again.path('partial.txt'))).toBe(true);
    again.abandon(true);
    const other = new RunFolder({ out, command: 't', key: 'B', resumable: true });
    expect(other.resumed).toBe(false);
    expect(existsSync(other.path('partial.txt'))).toBe(false);
    expect(other.lookup('step', { x: 1 })).toBe(42);
    expect(other.lookup('step', { x: 2 })).toBe(undefined);
    other.commit();
    expect(Object.keys(contents(out)).sort()).toEqual(['manifest.json', 'steps/step.json']);
    // The complete run's steps serve the next run.
    const next = new RunFolder({ out, command: 't', key: 'C' });
    expect(next.lookup('step', { x: 1 })).toBe(42);
    next.abandon();
  });

  it('a resumable run keeps the steps of earlier runs it did not look up, and of an interrupted run of another key', () => {
    const out = fresh();
    const a = new RunFolder({ out, command: 't', key: 'A', resumable: true });
    a.store('first', { x: 1 }, 1);
    a.commit();
    const killed = new RunFolder({ out, command: 't', key: 'B', resumable: true });
    killed.store('second', { x: 2 }, 2);
    killed.abandon(true); // as if killed: its staging folder stays
    const c = new RunFolder({ out, command: 't', key: 'C', resumable: true });
    c.store('third', { x: 3 }, 3);
    c.commit();
    expect(Object.keys(contents(out)).sort()).toEqual(['manifest.json', 'steps/first.json', 'steps/second.json', 'steps/third.json']);
    const d = new RunFolder({ out, command: 't', key: 'A', resumable: true });
    expect([d.lookup('first', { x: 1 }), d.lookup('second', { x: 2 }), d.lookup('third', { x: 3 })]).toEqual([1, 2, 3]);
    // A record the staging folder holds is not replaced by an older one.
    d.store('first', { x: 9 }, 9);
    d.abandon(true);
    const e = new RunFolder({ out, command: 't', key: 'A', resumable: true });
    expect(e.resumed).toBe(true);
    expect(e.lookup('first', { x: 9 })).toBe(9);
    e.abandon();
  });

  it('a run that caches nothing starts empty even with the same key, and leaves no half-written temporary file', () => {
    const out = fresh();
    const killed = new RunFolder({ out, command: 't', key: 'A' });
    killed.write('partial.txt', 'half');
    writeFileSync(killed.path('results.json.tmp-123-abcd'), 'half-written');
    // As if killed: nothing ran abandon.
    const again = new RunFolder({ out, command: 't', key: 'A' });
    expect(again.resumed).toBe(false);
    expect(existsSync(again.path('partial.txt'))).toBe(false);
    again.write('done.txt', 'whole');
    writeFileSync(again.path('x.json.tmp-99-ff'), 'half');
    again.commit();
    expect(listFiles(out)).toEqual(['done.txt', 'manifest.json']);
  });

  it('reuses a step folder only with the same key and the same files', () => {
    const out = fresh();
    const a = new RunFolder({ out, command: 't', key: 1 });
    a.write('net/model.json', 'm');
    a.storeDir('net', { epochs: 1 });
    a.commit();
    const b = new RunFolder({ out, command: 't', key: 2 });
    expect(b.lookupDir('net', { epochs: 2 })).toBe(undefined);
    expect(b.lookupDir('net', { epochs: 1 })).toBe(b.path('net'));
    expect(readFileSync(b.path('net', 'model.json'), 'utf8')).toBe('m');
    b.abandon();
    writeFileSync(join(out, 'net', 'model.json'), 'changed');
    const c = new RunFolder({ out, command: 't', key: 3 });
    expect(c.lookupDir('net', { epochs: 1 })).toBe(undefined);
    c.abandon();
  });

  it('refuses a second writer with one line naming it, and takes over the lock of a process that is gone', async () => {
    const out = fresh();
    const first = new RunFolder({ out, command: 'simulate', key: 1 });
    // Another process: the lock names this one, which is alive.
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import('${join(import.meta.dirname, '../../dist/study/run-folder.js')}').then((m) => { try { new m.RunFolder({ out: ${JSON.stringify(out)}, command: 'x', key: 1 }); } catch (e) { console.log(e.message); } })`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let text = '';
    child.stdout.on('data', (d) => {
      text += d;
    });
    await new Promise((r) => child.on('close', r));
    expect(text.trim()).toBe(
      `--out ${out} is being written by process ${process.pid} (xbar simulate, started ${JSON.parse(readFileSync(join(work, `.${out.split('/').pop()}.xbar-lock`), 'utf8')).startedAt}): wait for it to end, or choose another --out`,
    );
    first.abandon();
    // A lock left by a process that no longer exists is taken over.
    const lock = join(work, `.${out.split('/').pop()}.xbar-lock`);
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 12345, command: 'train', startedAt: 'then' }));
    const second = new RunFolder({ out, command: 't', key: 1 });
    expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(process.pid);
    second.abandon();
    expect(existsSync(lock)).toBe(false);
  });

  it('checks --out before any work', () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    expect(() => checkOut(file)).toThrow(/is a file, not a folder/);
    expect(() => checkOut(join(file, 'sub'))).toThrow(/is a file, so no folder can be made under it/);
    expect(() => checkOut('/proc/xbar-out')).toThrow(/special file system/);
    expect(() => checkOut('/sys/kernel/xbar')).toThrow(/special file system/);
    const model = join(work, 'model');
    mkdirSync(model, { recursive: true });
    expect(() => checkOut(model, [model])).toThrow(/holds the input/);
    expect(() => checkOut(work, [model])).toThrow(/holds the input/);
    const mine = join(work, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'mine');
    expect(() => new RunFolder({ out: mine, command: 't', key: 1 })).toThrow(/holds files xbar did not write/);
    if (process.getuid?.() !== 0) {
      // root writes anywhere: the permission check is only testable as another user
      expect(() => checkOut('/xbar-not-writable')).toThrow(/not writable/);
    }
  });
});
