import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OnnxBuilder } from '../onnx/build.js';
import { xbar } from '../xbar-cli.js';

/** End to end: xbar import / export and a .onnx --model, as a user runs them (npm test builds dist/ first). */
const fixtures = resolve(import.meta.dirname, '../fixtures/onnx');
const work = mkdtempSync(join(tmpdir(), 'xbar-cli-onnx-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

/** `xbar simulate` of one chip on an ideal device and circuit gives exactly `xbar eval`'s accuracy on the same images. */
function expectIdealChipIsSoftware(model: string): void {
  const ev = JSON.parse(xbar('eval', '--model', model, '--limit-test', '300', '--json').out);
  const ideal = ['--ideal', '--sigma', '0', '--read-noise', '0', '--chips', '1', '--workers', '1'];
  const sim = xbar('simulate', '--model', model, '--limit-test', '300', ...ideal, '--json');
  expect(sim.code, sim.err).toBe(0);
  expect(JSON.parse(sim.out)[0].summary.mean).toBe(ev.accuracy);
}

/** `xbar export` to NAME.onnx, then `xbar import` of that file, gives the model's weights back bit for bit. */
function expectRoundTrip(model: string, name: string): void {
  const onnx = join(work, `${name}.onnx`);
  const e = xbar('export', '--model', model, '--out', onnx);
  expect(e.code, e.err).toBe(0);
  expect(e.out).toMatch(new RegExp(`exported .* to .*${name}\\.onnx`));
  const back = join(work, `${name}-back`);
  const i = xbar('import', onnx, '--out', back, '--dataset', 'mnist');
  expect(i.code, i.err).toBe(0);
  expect(sha(join(back, 'weights.bin'))).toBe(sha(join(model, 'weights.bin')));
}

describe('xbar import / export', () => {
  const lenet = join(fixtures, 'lenet-op17.onnx');
  const dir = join(work, 'lenet');

  it('imports a PyTorch LeNet into a model folder that records where it came from; eval runs on it and on the .onnx itself', () => {
    const r = xbar('import', lenet, '--out', dir, '--dataset', 'mnist', '--json');
    expect(r.code, r.err).toBe(0);
    // A run folder (src/study/run-folder.ts): the model and the manifest of its files' checksums.
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);
    const meta = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).meta;
    expect(meta.dataset).toBe('mnist');
    expect(meta.onnx).toMatchObject({ sha256: sha(lenet), producer: 'pytorch', opset: 17 });
    expect(meta.onnx.producerVersion).toMatch(/^\d/);
    expect(meta.onnx.transformations.join('\n')).toMatch(/folded BatchNormalization node '.*' into Gemm node '.*'/);
    const fromDir = JSON.parse(xbar('eval', '--model', dir, '--limit-test', '500', '--json').out);
    const direct = xbar('eval', '--model', lenet, '--dataset', 'mnist', '--limit-test', '500', '--json');
    expect(direct.code, direct.err).toBe(0);
    expect(JSON.parse(direct.out).accuracy).toBe(fromDir.accuracy);
    expect(fromDir.accuracy).toBeGreaterThan(0.95);
  });

  it('simulate on an ideal device and circuit gives exactly the software accuracy', () => {
    expectIdealChipIsSoftware(dir);
  });

  it('export then import gives the same weights, bit for bit', () => {
    expectRoundTrip(dir, 'lenet-again');
  });

  it('an imported model fine-tunes with noise injection (--model DIR --init DIR) and exports back to ONNX', () => {
    const tuned = join(work, 'lenet-noise');
    const t = xbar(
      'train',
      '--model',
      dir,
      '--init',
      dir,
      '--dataset',
      'mnist',
      '--epochs',
      '1',
      '--limit-train',
      '600',
      '--limit-test',
      '200',
      '--noise-sigma',
      '0.1',
      '--out',
      tuned,
      '--quiet',
    );
    expect(t.code, t.err).toBe(0);
    expect(sha(join(tuned, 'weights.bin'))).not.toBe(sha(join(dir, 'weights.bin')));
    expectRoundTrip(tuned, 'lenet-noise');
  });

  it('imports the PyTorch ResNet as a graph network; simulate on an ideal device and circuit gives exactly its software accuracy', () => {
    const rn = join(work, 'resnet');
    expect(xbar('import', join(fixtures, 'resnet-op13.onnx'), '--out', rn, '--dataset', 'mnist').code).toBe(0);
    expect(
      JSON.parse(readFileSync(join(rn, 'model.json'), 'utf8')).spec.nodes.filter((n: { type: string }) => n.type === 'add'),
    ).toHaveLength(4);
    expectIdealChipIsSoftware(rn);
    expectRoundTrip(rn, 'resnet-again');
  }, 300_000); // six CLI runs of a ResNet: minutes on a loaded 2-core machine

  it('bad input: one line each, exit 1, no output folder left behind', () => {
    const cases: [string, Uint8Array | null, string[], RegExp][] = [];
    const unsupported = new OnnxBuilder(['N', 1, 28, 28]);
    cases.push([
      'unsupported.onnx',
      unsupported.bytes(unsupported.node('Erf', ['x'])),
      [],
      /unsupported ONNX operator 'Erf' \(node 'erf0'\): xbar imports Conv, Gemm/,
    ]);
    const good = readFileSync(lenet);
    cases.push(['truncated.onnx', good.subarray(0, 5000), [], /truncated\.onnx is not a readable ONNX model/]);
    cases.push(['text.onnx', new TextEncoder().encode('hello, not a model\n'), [], /not (a readable )?(an )?ONNX model/]);
    const dynamic = new OnnxBuilder(['N', 1, 'H', 'W']);
    cases.push([
      'dynamic.onnx',
      dynamic.bytes(dynamic.node('Flatten', ['x'])),
      [],
      /dynamic dimensions \[N, 1, H, W\]: pass --dataset or --data-dir/,
    ]);
    const external = new OnnxBuilder(['N', 4]);
    const w = external.init([4, 2]);
    const tensor = external.inits.find((t) => t.name === w)!;
    tensor.rawData = undefined;
    tensor.dataLocation = 1;
    tensor.externalData = [{ key: 'location', value: 'weights.bin' }];
    cases.push([
      'external.onnx',
      external.bytes(external.node('MatMul', ['x', w]), ['N', 2]),
      [],
      /tensor 'w0' keeps its data in an external file/,
    ]);
    cases.push(['lenet.onnx', null, ['--dataset', 'digits8'], /is \[batch, 1, 28, 28\] but the dataset's images are \[1,8,8\]/]);
    cases.push(['missing.onnx', null, [], /ONNX file .*missing\.onnx not found/]);
    for (const [name, bytes, extra, want] of cases) {
      const file = bytes ? join(work, name) : name === 'lenet.onnx' ? lenet : join(work, name);
      if (bytes) writeFileSync(file, bytes);
      const out = join(work, `out-${name}`);
      const r = xbar('import', file, '--out', out, ...extra);
      expect(r.code, name).toBe(1);
      expect(r.err.trim().split('\n'), name).toHaveLength(1);
      expect(r.err, name).toMatch(want);
      expect(existsSync(out), name).toBe(false);
    }
    // Neither a temporary file nor a run folder's staging folder or lock.
    expect(readdirSync(work).filter((f) => f.includes('.tmp-') || f.includes('.xbar-'))).toEqual([]);
  });

  it('a re-import replaces the folder whole; a folder of files xbar did not write is refused and left as it was', () => {
    const again = xbar('import', lenet, '--out', dir, '--dataset', 'mnist');
    expect(again.code, again.err).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(['manifest.json', 'model.json', 'weights.bin']);
    const mine = join(work, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'mine');
    const r = xbar('import', lenet, '--out', mine, '--dataset', 'mnist');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/holds files xbar did not write/);
    expect(readdirSync(mine)).toEqual(['notes.txt']);
  });
});
