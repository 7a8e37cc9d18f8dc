import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { chipMaps, hardwareOf, layerImpact, openOnnxSession, openSession, simulate } from '../../playground/src/engine.js';
import { cliArgs, parseSettings } from '../../playground/src/settings.js';

/**
 * The playground's engine (what its Web Worker runs) against the CLI: the same model, device,
 * faults and seed give the accuracies `xbar simulate --json` prints, chip for chip.
 */

const root = resolve(import.meta.dirname, '../..');
const assets = join(root, 'playground/assets');
const data = join(assets, 'data/mnist');
const idx = (n: string) => new Uint8Array(gunzipSync(readFileSync(join(data, `${n}.gz`))));

const pageData = () => ({
  trainImages: idx('train-images-idx3-ubyte'),
  trainLabels: idx('train-labels-idx1-ubyte'),
  testImages: idx('t10k-images-idx3-ubyte'),
  testLabels: idx('t10k-labels-idx1-ubyte'),
});
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function session(name: string) {
  const dir = join(assets, 'models', name);
  const weights = new Uint8Array(readFileSync(join(dir, 'weights.bin')));
  return openSession(name, readFileSync(join(dir, 'model.json'), 'utf8'), weights, sha(weights), pageData());
}

function cliSimulate(args: string[]) {
  return JSON.parse(
    execFileSync('node', [join(root, 'dist/cli/main.js'), 'simulate', ...args, '--json', '--workers', '1'], { encoding: 'utf8' }),
  );
}

describe('the playground engine', () => {
  const s = session('mlp-paper');
  const settings = parseSettings({
    device: 'reram-generic',
    sigma: 0.1,
    faults: 'circle:cx=0.4,cy=0.5,radius=0.3,density=0.5,kind=stuck-on@layers=1+rows:from=0.1,to=0.3,density=1,kind=stuck-off@layers=3',
    chips: 20,
    seed: 3,
  });

  it('gives the accuracies xbar simulate --json prints for the same settings', () => {
    const hw = hardwareOf(s, settings);
    let reported = 0;
    const sim = simulate(s, hw, settings, () => reported++);
    expect(reported).toBe(20);
    const cli = cliSimulate(cliArgs(settings, join(assets, 'models/mlp-paper'), data));
    expect(cli[0].summary).toEqual(sim.result.summary);
    // The confusion matrix holds every image of every chip, its diagonal the correct answers.
    const total = sim.confusion.reduce((a, b) => a + b, 0);
    expect(total).toBe(20 * s.test.n);
    let diag = 0;
    for (let c = 0; c < sim.classes; c++) diag += sim.confusion[c * sim.classes + c];
    expect(diag).toBe(sim.result.chips.reduce((a, c) => a + c.correct, 0));
  });

  it('attributes the loss to the layers that carry defects, and maps chip 0 as programChip does', () => {
    const hw = hardwareOf(s, settings);
    const impact = layerImpact(s, hw, settings, 4);
    expect(impact.layers.map((l) => l.layer)).toEqual([1, 3]);
    for (const l of impact.layers) expect(l.accuracy).toBeLessThanOrEqual(impact.base + 0.02);
    const maps = chipMaps(hw, settings.seed);
    expect(maps.map((m) => m.tiles.some((t) => t.kind?.some((k) => k > 0)))).toEqual([false, true, false, true]);
  });

  it('opens an .onnx file from PyTorch (an MLP) and simulates it as xbar simulate --model file.onnx does', () => {
    const file = join(root, 'test/fixtures/onnx/mlp-op17.onnx');
    const bytes = new Uint8Array(readFileSync(file));
    const onnx = openOnnxSession('mlp-op17.onnx', bytes, sha(bytes), pageData());
    expect(onnx.dataset).toBe('mnist');
    expect(onnx.softwareAccuracy).toBeGreaterThan(0.9);
    const set = parseSettings({
      device: 'reram-generic',
      sigma: 0.1,
      faults: 'ring:cx=0.5,cy=0.5,radius=0.3,width=0.1,density=1@layers=0',
      chips: 3,
      seed: 5,
    });
    const sim = simulate(onnx, hardwareOf(onnx, set), set, () => {});
    expect(cliSimulate(cliArgs(set, file, data))[0].summary).toEqual(sim.result.summary);
    // Not an ONNX file: one line naming the file.
    expect(() => openOnnxSession('broken.onnx', bytes.subarray(0, 100), sha(bytes), pageData())).toThrow(
      /broken\.onnx is not a readable ONNX model/,
    );
  });
});
