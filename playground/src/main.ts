import {
  type ChipResult,
  devicePresetNames,
  devicePresets,
  extractSimulate,
  resolveDevice,
  SPATIAL_PATTERNS,
  type Summary,
  simulateCommandLine,
  simulateResultsJson,
  summarize,
} from '../../src/browser.js';
import { type Brush, defaultBrush, TOOLS, type Tool, termFromDrag, termsOf } from './draw.js';
import type { CorrectorSettings, LayerImpact, LayerMaps } from './engine.js';
import { drawEditor, renderMaps } from './maps-view.js';
import type { ModelInfo, Reply, Request, Simulated } from './protocol.js';
import { cliLine, commandOf, parseSettings, REPO_MODELS, type Settings } from './settings.js';
import { bars, confusion, histogram, recovery } from './svg.js';

/** The page: state, controls and views. The numbers all come from the worker (worker.ts). */

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const pct = (x: number, d = 2) => `${(100 * x).toFixed(d)}%`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Manifest {
  models: { name: string; dataset: string; description: string }[];
  data: string;
}

interface ModelSource {
  name: string;
  /** Where the model sits for the command line (the repo's asset folder, or the user's folder or .onnx file). */
  dir: string;
  format: 'xbar' | 'onnx';
  modelJson: string;
  weights: ArrayBuffer;
}

type SlotName = 'A' | 'B';

interface RunView {
  /** 'run' = simulated here; 'file' = loaded from a results file. */
  source: 'run' | 'file';
  label: string;
  total: number;
  chips: ChipResult[];
  summary: Summary | null;
  confusion: Int32Array | null;
  classes: number;
  impact: { base: number; layers: LayerImpact[] } | null;
  command: string;
  results: object | null;
  seconds: number | null;
  /** Milliseconds from pressing run to the first chip's result. */
  firstChipMs: number | null;
}

interface Slot {
  settings: Settings;
  run: RunView | null;
}

const state = {
  manifest: null as Manifest | null,
  data: null as Record<'trainImages' | 'trainLabels' | 'testImages' | 'testLabels', ArrayBuffer> | null,
  model: null as ModelSource | null,
  info: null as ModelInfo | null,
  slots: { A: { settings: parseSettings({}), run: null }, B: null } as Record<SlotName, Slot | null>,
  active: 'A' as SlotName,
  brush: { ...defaultBrush } as Brush,
  layer: 0,
  maps: [] as LayerMaps[],
  mapsId: 0,
};

const slot = (): Slot => state.slots[state.active] as Slot;

// ---------- workers ----------

/** The long-lived worker that draws chip 0's fault maps as the settings change. */
let preview: Worker | null = null;

function newWorker(onReply: (r: Reply) => void): Worker {
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  w.onmessage = (e: MessageEvent<Reply>) => onReply(e.data);
  w.onerror = (e) => onReply({ type: 'error', message: e.message || 'the worker failed to start' });
  return w;
}

function openIn(w: Worker): void {
  const m = state.model;
  const d = state.data;
  if (!m || !d) return;
  const req: Request = {
    type: 'open',
    name: m.name,
    format: m.format,
    modelJson: m.modelJson,
    weights: m.weights.slice(0),
    data: { ...d },
  };
  w.postMessage(req);
}

// ---------- loading ----------

async function fetchBytes(url: string): Promise<ArrayBuffer> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return r.arrayBuffer();
}

async function start(): Promise<void> {
  buildControls();
  const manifest = (await (await fetch('assets/manifest.json')).json()) as Manifest;
  state.manifest = manifest;
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];
  const [trainImages, trainLabels, testImages, testLabels] = await Promise.all(names.map((n) => fetchBytes(`${manifest.data}/${n}.gz`)));
  state.data = { trainImages, trainLabels, testImages, testLabels };
  const sel = $<HTMLSelectElement>('model');
  sel.replaceChildren(
    ...manifest.models.map((m) => {
      const o = document.createElement('option');
      o.value = m.name;
      o.textContent = `${m.name}: ${m.description}`;
      return o;
    }),
  );
  sel.onchange = () => void pickShipped(sel.value);
  await pickShipped(manifest.models[0].name);
}

async function pickShipped(name: string): Promise<void> {
  const base = `assets/models/${name}`;
  const [json, weights] = await Promise.all([fetch(`${base}/model.json`).then((r) => r.text()), fetchBytes(`${base}/weights.bin`)]);
  useModel({ name, dir: `${REPO_MODELS}/${name}`, format: 'xbar', modelJson: json, weights });
}

async function pickOwn(files: FileList): Promise<void> {
  const list = [...files];
  const onnx = list.find((f) => f.name.toLowerCase().endsWith('.onnx'));
  if (onnx) {
    useModel({ name: onnx.name, dir: `path/to/${onnx.name}`, format: 'onnx', modelJson: '', weights: await onnx.arrayBuffer() });
    return;
  }
  const json = list.find((f) => f.name.endsWith('.json'));
  const bin = list.find((f) => f.name.endsWith('.bin'));
  if (!json || !bin) {
    $('model-info').textContent =
      'pick an .onnx file, or both files of an xbar model folder: model.json and weights.bin (hold Ctrl or Shift to pick two)';
    return;
  }
  let name = 'my-model';
  try {
    const meta = JSON.parse(await json.text())?.meta;
    if (typeof meta?.model === 'string') name = meta.model.split('/').pop() || name;
  } catch {
    // The worker reports the bad JSON with the fix.
  }
  useModel({ name, dir: `path/to/${name}`, format: 'xbar', modelJson: await json.text(), weights: await bin.arrayBuffer() });
}

function useModel(m: ModelSource): void {
  state.model = m;
  state.info = null;
  $('model-info').textContent = `opening ${m.name}…`;
  preview?.terminate();
  preview = newWorker(onPreview);
  openIn(preview);
}

function onPreview(r: Reply): void {
  if (r.type === 'opened') {
    state.info = r.info;
    const i = r.info;
    $('model-info').innerHTML =
      `<b>${esc(i.name)}</b> on ${esc(i.dataset)}: ${i.parameters.toLocaleString()} parameters, ${i.weightedLayers} weighted layers; ` +
      `software accuracy <b id="software" data-accuracy="${i.softwareAccuracy}">${pct(i.softwareAccuracy)}</b> on the page's ${i.testImages} test images.`;
    const layerSel = $<HTMLSelectElement>('layer');
    layerSel.replaceChildren(
      ...Array.from({ length: i.weightedLayers }, (_, l) => {
        const o = document.createElement('option');
        o.value = String(l);
        o.textContent = `${l}${l === i.weightedLayers - 1 ? ' (output)' : ''}`;
        return o;
      }),
    );
    state.layer = Math.min(state.layer, i.weightedLayers - 1);
    layerSel.value = String(state.layer);
    requestMaps();
  } else if (r.type === 'maps') {
    if (r.id !== state.mapsId) return;
    state.maps = r.maps;
    const names = weightedNames();
    renderMaps($('maps'), r.maps, names);
    drawEditor($<HTMLCanvasElement>('editor'), r.maps[state.layer], null);
  } else if (r.type === 'error') {
    if (!state.info) $('model-info').textContent = r.message;
    else $('spec-error').textContent = r.message;
  }
}

/** "dense 64 -> 8" of each weighted layer. */
function weightedNames(): string[] {
  return (state.info?.layers ?? []).filter((l) => l.startsWith('dense') || l.startsWith('conv2d'));
}

let mapsTimer = 0;
function requestMaps(): void {
  clearTimeout(mapsTimer);
  mapsTimer = window.setTimeout(() => {
    if (!preview || !state.info) return;
    state.mapsId++;
    preview.postMessage({ type: 'maps', id: state.mapsId, settings: slot().settings } satisfies Request);
  }, 60);
}

// ---------- settings ----------

const NUMERIC = ['sigma', 'readNoise', 'levels', 'arraySize', 'dacBits', 'adcBits', 'chips', 'seed'] as const;

function buildControls(): void {
  const dev = $<HTMLSelectElement>('device');
  dev.replaceChildren(
    ...devicePresetNames.map((n) => {
      const o = document.createElement('option');
      o.value = n;
      o.textContent = n;
      return o;
    }),
  );
  dev.onchange = () => readSettings();
  for (const k of NUMERIC) $<HTMLInputElement>(k).onchange = () => readSettings();
  $('tab-A').onclick = () => activate('A');
  $('tab-B').onclick = () => activate('B');

  const tools = $('tools');
  for (const t of TOOLS) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = t;
    b.dataset.tool = t;
    b.onclick = () => {
      state.brush.tool = t;
      showBrush();
    };
    tools.append(b);
  }
  $<HTMLSelectElement>('layer').onchange = (e) => {
    state.layer = Number((e.target as HTMLSelectElement).value);
    drawEditor($<HTMLCanvasElement>('editor'), state.maps[state.layer], null);
  };
  $<HTMLSelectElement>('kind').onchange = (e) => {
    state.brush.kind = (e.target as HTMLSelectElement).value as Brush['kind'];
  };
  for (const k of ['density', 'width', 'block'] as const)
    $<HTMLInputElement>(k).onchange = (e) => {
      const v = Number((e.target as HTMLInputElement).value);
      if (Number.isFinite(v)) state.brush[k] = v;
    };
  $<HTMLInputElement>('spec').onchange = (e) => setSpec((e.target as HTMLInputElement).value);
  $('clear-faults').onclick = () => setSpec('');
  wireEditor($<HTMLCanvasElement>('editor'));

  $('run').onclick = () => run();
  $('cancel').onclick = () => cancelRun('cancelled');
  $<HTMLInputElement>('load-results').onchange = (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) void loadResults(f);
  };
  $<HTMLInputElement>('model-files').onchange = (e) => {
    const files = (e.target as HTMLInputElement).files;
    if (files?.length) void pickOwn(files);
  };

  const pats = $('corr-patterns');
  for (const p of SPATIAL_PATTERNS) {
    const l = document.createElement('label');
    l.innerHTML = `<input type="checkbox" value="${p}" checked> ${p}`;
    pats.append(l);
  }
  $('correct').onclick = () => correct();
  $('correct-cancel').onclick = () => cancelCorrect('cancelled');
  showBrush();
  showSettings();
}

const HINTS: Record<Tool, string> = {
  circle: 'Drag from the centre outwards: a disc of stuck cells.',
  ring: 'Drag from the centre to the ring’s radius (its width is set beside).',
  rows: 'Drag up or down: a band of word lines (rows) with stuck cells.',
  columns: 'Drag left or right: a band of bit lines (columns) with stuck cells.',
  checkerboard: 'Click: stuck cells in a checkerboard of blocks (block size beside).',
  random: 'Click: cells stuck at random over the whole array, at the density beside.',
};

function showBrush(): void {
  for (const b of $('tools').querySelectorAll('button')) b.classList.toggle('active', b.dataset.tool === state.brush.tool);
  $('tool-hint').textContent =
    `${HINTS[state.brush.tool]} The defect lands on every array of the chosen layer (patterns are in relative coordinates).`;
}

function readSettings(): void {
  const input: Record<string, unknown> = { device: $<HTMLSelectElement>('device').value, faults: slot().settings.faults };
  for (const k of NUMERIC) {
    const v = $<HTMLInputElement>(k).value.trim();
    if (v !== '') input[k] = Number(v);
  }
  try {
    slot().settings = parseSettings(input);
    $('device-info').textContent = deviceLine();
    requestMaps();
  } catch (e) {
    $('device-info').textContent = (e as Error).message;
  }
}

function deviceLine(): string {
  const s = slot().settings;
  const d = resolveDevice(s.device);
  return `${s.device}: ${devicePresets[s.device].description} (preset sigma ${d.programSigma}, read noise ${d.readNoise}, ${d.levels ? `${d.levels} levels` : 'continuous levels'})`;
}

function showSettings(): void {
  const s = slot().settings;
  $<HTMLSelectElement>('device').value = s.device;
  for (const k of NUMERIC) $<HTMLInputElement>(k).value = s[k] === undefined ? '' : String(s[k]);
  $<HTMLInputElement>('spec').value = s.faults;
  $('spec-error').textContent = '';
  $('device-info').textContent = deviceLine();
  showTerms();
  for (const n of ['A', 'B'] as const) $(`tab-${n}`).classList.toggle('active', n === state.active);
}

function activate(name: SlotName): void {
  // Setting B starts as a copy of A, so a comparison changes one thing at a time.
  if (!state.slots[name]) state.slots[name] = { settings: { ...(state.slots.A as Slot).settings }, run: null };
  state.active = name;
  showSettings();
  requestMaps();
}

function setSpec(text: string): void {
  try {
    termsOf(text);
    slot().settings = parseSettings({ ...slot().settings, faults: text.trim() });
    $('spec-error').textContent = '';
  } catch (e) {
    $('spec-error').textContent = (e as Error).message;
    return;
  }
  $<HTMLInputElement>('spec').value = slot().settings.faults;
  showTerms();
  requestMaps();
}

function showTerms(): void {
  const terms = termsOf(slot().settings.faults);
  $('terms').replaceChildren(
    ...terms.map((t, i) => {
      const li = document.createElement('li');
      li.textContent = t;
      const del = document.createElement('button');
      del.type = 'button';
      del.textContent = 'remove';
      del.onclick = () => setSpec(terms.filter((_, k) => k !== i).join('+'));
      li.append(del);
      return li;
    }),
  );
}

function wireEditor(canvas: HTMLCanvasElement): void {
  let drag: { u0: number; v0: number; u1: number; v1: number; tool: string } | null = null;
  const at = (e: MouseEvent) => {
    const r = canvas.getBoundingClientRect();
    return [(e.clientX - r.left) / r.width, (e.clientY - r.top) / r.height];
  };
  canvas.onmousedown = (e) => {
    const [u, v] = at(e);
    drag = { u0: u, v0: v, u1: u, v1: v, tool: state.brush.tool };
  };
  canvas.onmousemove = (e) => {
    if (!drag) return;
    [drag.u1, drag.v1] = at(e);
    drawEditor(canvas, state.maps[state.layer], drag);
  };
  const finish = (e: MouseEvent) => {
    if (!drag) return;
    [drag.u1, drag.v1] = at(e);
    const d = drag;
    drag = null;
    try {
      const term = termFromDrag(state.brush, state.layer, d.u0, d.v0, d.u1, d.v1);
      if (term) setSpec([...termsOf(slot().settings.faults), term].join('+'));
      else drawEditor(canvas, state.maps[state.layer], null);
    } catch (err) {
      $('spec-error').textContent = (err as Error).message;
    }
  };
  canvas.onmouseup = finish;
  canvas.onmouseleave = (e) => {
    if (drag) finish(e);
  };
}

// ---------- running chips ----------

let runner: { worker: Worker; slot: SlotName; t0: number } | null = null;

function setRunning(on: boolean): void {
  $<HTMLButtonElement>('run').disabled = on;
  $<HTMLButtonElement>('cancel').disabled = !on;
}

function cancelRun(why: string): void {
  if (!runner) return;
  runner.worker.terminate();
  const v = state.slots[runner.slot]?.run;
  runner = null;
  setRunning(false);
  $('status').textContent = `${why}${v ? ` after ${v.chips.length} of ${v.total} chips` : ''}`;
}

function run(): void {
  if (!state.model || !state.info) return;
  readSettings();
  const name = state.active;
  const s = slot().settings;
  const model = state.model;
  const view: RunView = {
    source: 'run',
    label: `${model.name}, setting ${name}`,
    total: s.chips,
    chips: [],
    summary: null,
    confusion: null,
    classes: state.info.classes,
    impact: null,
    command: cliLine(s, model.dir),
    results: null,
    seconds: null,
    firstChipMs: null,
  };
  slot().run = view;
  const t0 = performance.now();
  const worker = newWorker((r) => onRun(r, name, s, view, model));
  runner = { worker, slot: name, t0 };
  setRunning(true);
  const bar = $<HTMLProgressElement>('progress');
  bar.max = s.chips;
  bar.value = 0;
  $('status').textContent = `running ${s.chips} chips…`;
  openIn(worker);
  worker.postMessage({ type: 'simulate', settings: s, impactChips: Math.min(s.chips, 8) } satisfies Request);
  renderSlot(name);
}

function onRun(r: Reply, name: SlotName, s: Settings, view: RunView, model: ModelSource): void {
  if (!runner || runner.slot !== name) return;
  if (r.type === 'chip') {
    if (view.firstChipMs === null) view.firstChipMs = performance.now() - runner.t0;
    view.chips.push(r.chip);
    view.confusion = r.confusion;
    $<HTMLProgressElement>('progress').value = r.done;
    $('status').textContent = `chip ${r.chip.chip}: ${pct(r.chip.accuracy)} (${r.done} of ${r.total})`;
    renderSoon(name);
  } else if (r.type === 'simulated') {
    finishRun(r, name, s, view, model);
    if (!s.faults.trim()) stopRunner();
  } else if (r.type === 'impact') {
    view.impact = { base: r.base, layers: r.layers };
    $('status').textContent =
      `done: ${s.chips} chips in ${(view.seconds ?? 0).toFixed(2)} s, and each faulty layer alone on ${Math.min(8, s.chips)} chips`;
    renderSlot(name);
    stopRunner();
  } else if (r.type === 'error') {
    cancelRun(`stopped: ${r.message}`);
  }
}

function stopRunner(): void {
  runner?.worker.terminate();
  runner = null;
  setRunning(false);
}

function finishRun(r: Simulated, name: SlotName, s: Settings, view: RunView, model: ModelSource): void {
  view.chips = r.result.chips;
  view.summary = r.result.summary;
  view.confusion = r.confusion;
  view.seconds = r.result.seconds;
  view.results = simulateResultsJson({
    command: commandOf(s, model.dir),
    model: model.dir,
    dataset: r.dataset,
    points: [{ key: '', value: '', device: r.device, circuit: r.circuit, faults: r.faults, result: r.result }],
  });
  $('status').textContent =
    `done: ${s.chips} chips in ${r.result.seconds.toFixed(2)} s${s.faults.trim() ? '; measuring which layers hurt most…' : ''}`;
  renderSlot(name);
}

/** Small chips finish hundreds a second: redraw the plots at most every 200 ms meanwhile. */
const pendingRender: Partial<Record<SlotName, number>> = {};
function renderSoon(name: SlotName): void {
  if (pendingRender[name] !== undefined) return;
  pendingRender[name] = window.setTimeout(() => {
    pendingRender[name] = undefined;
    renderSlot(name);
  }, 200);
}

function renderSlot(name: SlotName): void {
  clearTimeout(pendingRender[name]);
  pendingRender[name] = undefined;
  const host = $(`result-${name}`);
  const v = state.slots[name]?.run;
  if (!v) {
    host.replaceChildren();
    return;
  }
  const sw = state.info?.softwareAccuracy;
  const summary = v.summary ?? (v.chips.length ? summarize(v.chips.map((c) => c.accuracy)) : null);
  const names = Array.from({ length: v.classes }, (_, i) => String(i));
  const parts = [`<h3>Setting ${name}: ${esc(v.label)}</h3>`];
  if (summary)
    parts.push(
      `<p><span class="stat mean" data-mean="${v.summary ? v.summary.mean : ''}" data-chips="${summary.n}" data-seconds="${v.seconds ?? ''}" data-first-chip-ms="${v.firstChipMs ?? ''}">${pct(summary.mean)}</span> mean accuracy ± ${pct(summary.std)} over ${summary.n}${v.summary ? '' : ` of ${v.total}`} chips ` +
        `(min ${pct(summary.min)}, max ${pct(summary.max)}, 95% CI of the mean [${pct(summary.ci95[0])}, ${pct(summary.ci95[1])}])` +
        `${sw !== undefined && v.source === 'run' ? `; software ${pct(sw)}` : ''}${v.firstChipMs !== null ? `; first chip after ${(v.firstChipMs / 1000).toFixed(2)} s` : ''}</p>`,
    );
  parts.push(
    histogram(
      v.chips.map((c) => c.accuracy),
      { title: 'Accuracy of each chip', ref: sw !== undefined && v.source === 'run' ? { x: sw, label: 'software' } : undefined },
    ),
  );
  if (v.confusion) parts.push(confusion(v.confusion, v.classes, names, 'Answers per class, all chips (row = true class)'));
  if (v.impact)
    parts.push(
      bars(
        v.impact.layers.map((l) => ({
          label: `layer ${l.layer} (${l.arrays} array${l.arrays > 1 ? 's' : ''})`,
          value: l.drop,
          note: `with only this layer's defects: ${pct(l.accuracy)}; without defects: ${pct(v.impact?.base ?? 0)}`,
        })),
        `Accuracy lost to each layer's defects alone (${Math.min(8, v.total)} chips)`,
      ),
    );
  parts.push(`<p class="hint">The same numbers from the command line:</p><div class="cmd">${esc(v.command)} --json</div>`);
  host.innerHTML = parts.join('');
  if (v.results) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'save';
    b.textContent = 'Save results.json (xbar report reads it)';
    b.onclick = () => download('results.json', `${JSON.stringify(v.results, null, 2)}\n`);
    host.append(b);
  }
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

async function loadResults(f: File): Promise<void> {
  try {
    let json: unknown;
    try {
      json = JSON.parse(await f.text());
    } catch (e) {
      throw new Error(`${f.name}: not valid JSON (${(e as Error).message}): pick the results.json of xbar simulate --out or of this page`);
    }
    const d = extractSimulate({ file: f.name, json: json as Record<string, unknown>, maps: [] });
    const p = d.points[0];
    const values = p.stat.values ?? [];
    slot().run = {
      source: 'file',
      label: `${f.name}: ${d.model}${d.points.length > 1 ? ` (first of ${d.points.length} sweep points)` : ''}`,
      total: values.length,
      chips: values.map((a, i) => ({ chip: i, accuracy: a, correct: Math.round(a * p.images), faultyWeights: [] })),
      summary: {
        n: p.stat.n ?? values.length,
        mean: p.stat.mean,
        std: p.stat.std ?? Number.NaN,
        min: p.stat.min ?? Number.NaN,
        max: p.stat.max ?? Number.NaN,
        ci95: p.ci95,
        p025: p.p025,
        p975: p.p975,
      },
      confusion: null,
      classes: state.info?.classes ?? 10,
      impact: null,
      command: simulateCommandLine(d.command),
      results: json as object,
      seconds: p.seconds,
      firstChipMs: null,
    };
    $('status').textContent = `loaded ${f.name} into setting ${state.active}`;
    renderSlot(state.active);
  } catch (e) {
    $('status').textContent = (e as Error).message;
  }
}

// ---------- the learned corrector ----------

let corrector: Worker | null = null;

function cancelCorrect(why: string): void {
  corrector?.terminate();
  corrector = null;
  $<HTMLButtonElement>('correct').disabled = false;
  $<HTMLButtonElement>('correct-cancel').disabled = true;
  $('correct-status').textContent = why;
}

function correctorSettings(): CorrectorSettings {
  const num = (id: string) => {
    const v = Number($<HTMLInputElement>(id).value);
    if (!Number.isInteger(v) || v < 1) throw new Error(`${id.replace('corr-', '')}: a whole number of 1 or more`);
    return v;
  };
  const patterns = [...$('corr-patterns').querySelectorAll<HTMLInputElement>('input:checked')].map(
    (i) => i.value,
  ) as CorrectorSettings['patterns'];
  if (!patterns.length) throw new Error('tick at least one defect type');
  const hiddenText = $<HTMLInputElement>('corr-hidden').value.trim();
  const hidden = hiddenText === '' || hiddenText === 'linear' ? [] : hiddenText.split(',').map((s) => Number(s.trim()));
  if (hidden.some((h) => !Number.isInteger(h) || h < 1)) throw new Error("hidden widths: whole numbers like 64,64 (or 'linear')");
  return {
    patterns,
    layers: $<HTMLSelectElement>('corr-layers').value as 'last' | 'all',
    trainChips: num('corr-train-chips'),
    imagesPerChip: num('corr-images'),
    evalChips: num('corr-eval-chips'),
    hidden,
    norm: $<HTMLSelectElement>('corr-norm').value as CorrectorSettings['norm'],
    epochs: num('corr-epochs'),
  };
}

function correct(): void {
  if (!state.model || !state.info) return;
  let c: CorrectorSettings;
  try {
    c = correctorSettings();
  } catch (e) {
    $('correct-status').textContent = (e as Error).message;
    return;
  }
  const settings = (state.slots.A as Slot).settings;
  const w = newWorker((r) => {
    if (w !== corrector) return;
    const bar = $<HTMLProgressElement>('correct-progress');
    if (r.type === 'correct-progress') {
      bar.max = r.total;
      bar.value = r.done;
      $('correct-status').textContent = `${r.phase}: ${r.done} of ${r.total}; ${r.info}`;
    } else if (r.type === 'corrected') {
      cancelCorrect(
        `done: trained ${r.name} (${r.parameters.toLocaleString()} parameters) on ${r.trainSamples.toLocaleString()} samples in ${r.trainSeconds.toFixed(1)} s`,
      );
      const sw = state.info?.softwareAccuracy ?? 1;
      $('correct-result').innerHTML =
        `<p>On ${r.heldOut.length} held-out chips: uncorrected <span class="stat" id="uncorrected" data-mean="${r.uncorrected.mean}">${pct(r.uncorrected.mean)}</span> ± ${pct(r.uncorrected.std)}, ` +
        `corrected <span class="stat" id="corrected" data-mean="${r.corrected.mean}">${pct(r.corrected.mean)}</span> ± ${pct(r.corrected.std)} (software ${pct(sw)}).</p>` +
        recovery(
          r.heldOut.map((h) => ({ before: h.uncorrected, after: h.corrected[0] as number })),
          'Each held-out chip: uncorrected (grey), corrected (green)',
          sw,
        ) +
        `<p class="hint">The command line equivalent (more chips make a better corrector):</p><div class="cmd">${esc(
          `xbar correct train -m ${state.model?.dir} --device ${settings.device} --sigma ${settings.sigma ?? resolveDevice(settings.device).programSigma}${settings.readNoise !== undefined ? ` --read-noise ${settings.readNoise}` : ''}${settings.levels !== undefined ? ` --levels ${settings.levels}` : ''}${settings.arraySize !== undefined ? ` --array-size ${settings.arraySize}` : ''} --patterns ${c.patterns.join(',')} --layers ${c.layers} --train-chips ${c.trainChips} --images-per-chip ${c.imagesPerChip} --eval-chips ${c.evalChips} --epochs ${c.epochs} --hidden ${c.hidden.join(',') || 'linear'} --norm ${c.norm} --val-fraction 0 --seed ${settings.seed} --data-dir playground/assets/data/mnist --kernels js --out runs/corrector`,
        )}</div>`;
    } else if (r.type === 'error') cancelCorrect(`stopped: ${r.message}`);
  });
  corrector = w;
  $<HTMLButtonElement>('correct').disabled = true;
  $<HTMLButtonElement>('correct-cancel').disabled = false;
  $('correct-status').textContent = 'starting…';
  openIn(w);
  w.postMessage({ type: 'correct', settings, corrector: c } satisfies Request);
}

start().catch((e) => {
  $('model-info').textContent = `the page could not load its assets: ${(e as Error).message}`;
});
