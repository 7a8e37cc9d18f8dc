import { formatFaultSpec, isGzip, XbarError } from '../../src/browser.js';
import {
  chipMaps,
  hardwareOf,
  layerImpact,
  openOnnxSession,
  openSession,
  type Session,
  simulate,
  trainAndEvaluateCorrector,
} from './engine.js';
import type { ModelInfo, OpenRequest, Reply, Request } from './protocol.js';

/**
 * The page's Web Worker: holds the model and the images, and runs the simulator so that the page
 * stays responsive. The page cancels a run by terminating its worker.
 */

const scope = self as unknown as {
  postMessage(m: Reply, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Request>) => void) | null;
};
const post = (m: Reply, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let session: Session | null = null;
// Messages run one after another, in order (opening a model is asynchronous).
let queue: Promise<void> = Promise.resolve();

scope.onmessage = (e) => {
  queue = queue.then(() => handle(e.data)).catch((err) => post({ type: 'error', message: messageOf(err) }));
};

function messageOf(err: unknown): string {
  if (err instanceof XbarError) return err.message;
  return `internal error: ${(err as Error)?.stack ?? String(err)}`;
}

async function gunzip(buf: ArrayBuffer): Promise<Uint8Array> {
  const bytes = new Uint8Array(buf);
  if (!isGzip(bytes)) return bytes;
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  if (!crypto?.subtle) throw new XbarError('this browser offers no WebCrypto here (serve the page from localhost or https)');
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

async function open(m: OpenRequest): Promise<ModelInfo> {
  const weights = new Uint8Array(m.weights) as Uint8Array<ArrayBuffer>;
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(
    [m.data.trainImages, m.data.trainLabels, m.data.testImages, m.data.testLabels].map(gunzip),
  );
  const data = { trainImages, trainLabels, testImages, testLabels };
  const sha = await sha256Hex(weights);
  session = m.format === 'onnx' ? openOnnxSession(m.name, weights, sha, data) : openSession(m.name, m.modelJson, weights, sha, data);
  const { model } = session;
  return {
    name: m.name,
    dataset: session.dataset,
    parameters: model.parameterCount,
    weightedLayers: model.layers.filter((l) => l.spec.type === 'dense' || l.spec.type === 'conv2d').length,
    layers: model.layers.map((l) => `${l.spec.type} ${l.inShape.join('x')} -> ${l.outShape.join('x')}`),
    classes: model.outputSize,
    testImages: session.test.n,
    softwareAccuracy: session.softwareAccuracy,
  };
}

async function handle(m: Request): Promise<void> {
  if (m.type === 'open') {
    post({ type: 'opened', info: await open(m) });
    return;
  }
  if (!session) throw new XbarError('no model is open yet: pick a network first');
  const hw = hardwareOf(session, m.settings);
  if (m.type === 'maps') {
    const maps = chipMaps(hw, m.settings.seed);
    post({ type: 'maps', id: m.id, maps });
  } else if (m.type === 'simulate') {
    const total = m.settings.chips;
    const sim = simulate(session, hw, m.settings, (p) =>
      post({ type: 'chip', chip: p.chip, done: p.done, total, confusion: p.confusion.slice() }),
    );
    post({
      type: 'simulated',
      result: sim.result,
      confusion: sim.confusion,
      classes: sim.classes,
      device: hw.device,
      circuit: hw.circuit,
      faults: hw.faults.length ? formatFaultSpec(hw.faults) : '',
      dataset: session.dataset,
    });
    if (hw.faults.length && m.impactChips > 0) post({ type: 'impact', ...layerImpact(session, hw, m.settings, m.impactChips) });
  } else if (m.type === 'correct') {
    const run = trainAndEvaluateCorrector(session, hw, m.settings.seed, m.corrector, (p) => post({ type: 'correct-progress', ...p }));
    post({ type: 'corrected', ...run });
  }
}
