import { type ChildProcess, execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XbarError } from '../core/errors.js';
import { onInterrupt } from '../core/interrupt.js';

/** What one SPICE run returns: the saved vectors by lower-case name ('v(out0)'), and the simulator's messages. */
export interface SpiceRun {
  vectors: Map<string, Float64Array>;
  /** Analysis points computed (fewer than asked when the analysis stopped early). */
  points: number;
  log: string;
}

/** A SPICE simulator that runs a whole deck (netlist with its analysis line) in batch mode. */
export interface SpiceEngine {
  readonly name: 'native' | 'wasm';
  readonly version: string;
  run(deck: string): Promise<SpiceRun>;
}

export type EngineChoice = 'native' | 'wasm' | 'auto';

const INSTALL = 'install it with npm i eecircuit-engine or apt-get install ngspice';

/** Where to look for the engines; tests point these at nothing to see the errors. */
export interface EngineLookup {
  /** The ngspice binary: $XBAR_NGSPICE, else `ngspice` on PATH. */
  ngspice?: string;
  /** Loads the eecircuit-engine module (default: a dynamic import). */
  importWasm?: () => Promise<unknown>;
}

/** Picks the engine: native ngspice first, the WebAssembly build as the fallback, or the one asked for. */
export async function selectEngine(choice: EngineChoice = 'auto', lookup: EngineLookup = {}): Promise<SpiceEngine> {
  const bin = lookup.ngspice ?? process.env.XBAR_NGSPICE ?? 'ngspice';
  if (choice !== 'wasm') {
    const version = ngspiceVersion(bin);
    if (version) return new NativeEngine(bin, version);
    if (choice === 'native')
      throw new XbarError(
        `ngspice not found (ran '${bin}'): install it with apt-get install ngspice, or npm i eecircuit-engine and use --engine wasm`,
      );
  }
  const mod = await (lookup.importWasm ?? importEecircuit)().catch(() => null);
  if (mod) return WasmEngine.start(mod);
  if (choice === 'wasm')
    throw new XbarError(
      'eecircuit-engine is not installed: install it with npm i eecircuit-engine, or apt-get install ngspice and use --engine native',
    );
  throw new XbarError(`no SPICE engine found (neither ngspice nor eecircuit-engine): ${INSTALL}`);
}

// A variable specifier: the package is optional and not a dependency.
const importEecircuit = (): Promise<unknown> => {
  const name = 'eecircuit-engine';
  return import(name);
};

function ngspiceVersion(bin: string): string | null {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error || r.status !== 0) return null;
  return /ngspice-\S+/.exec(r.stdout)?.[0] ?? 'ngspice';
}

/** Native ngspice in batch mode: `ngspice -b -r out.raw deck.cir`, vectors read from the binary raw file. */
class NativeEngine implements SpiceEngine {
  readonly name = 'native';
  constructor(
    private readonly bin: string,
    readonly version: string,
  ) {}

  async run(deck: string): Promise<SpiceRun> {
    const dir = mkdtempSync(join(tmpdir(), 'xbar-spice-'));
    let child: ChildProcess | undefined;
    // Ctrl-C or SIGTERM while ngspice runs: stop it and remove its folder (tens of MB) before exiting.
    const stop = onInterrupt(() => {
      child?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
    try {
      const cir = join(dir, 'deck.cir');
      const raw = join(dir, 'out.raw');
      writeFileSync(cir, deck);
      const log = await new Promise<string>((resolve) => {
        child = execFile(this.bin, ['-b', '-r', raw, cir], { cwd: dir, maxBuffer: 256 << 20 }, (_err, stdout, stderr) =>
          resolve(`${stdout}\n${stderr}`),
        );
      });
      if (!existsSync(raw)) throw new XbarError(`ngspice wrote no results: ${errorLines(log) || 'no message'}`);
      return { ...parseRaw(readFileSync(raw)), log };
    } finally {
      stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/**
 * ngspice's binary raw file: a text header (No. Variables, Variables: index name type) then, after
 * "Binary:\n", float64 little-endian values point by point. The point count is taken from the data
 * length: after an aborted analysis the header says 0 but the points done are there.
 */
export function parseRaw(buf: Uint8Array): { vectors: Map<string, Float64Array>; points: number } {
  const marker = Buffer.from('Binary:\n');
  const at = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).indexOf(marker);
  if (at < 0) throw new XbarError('the SPICE raw file has no binary data section (was it written as ASCII?)');
  const header = Buffer.from(buf.buffer, buf.byteOffset, at).toString('latin1').split('\n');
  const nVars = Number(/No\. Variables:\s*(\d+)/.exec(header.join('\n'))?.[1]);
  const first = header.findIndex((l) => l.startsWith('Variables:')) + 1;
  if (!(nVars > 0) || first === 0) throw new XbarError('the SPICE raw file header is not readable');
  if (/complex/.test(header.find((l) => l.startsWith('Flags')) ?? '')) throw new XbarError('expected real data in the SPICE raw file');
  const names = header.slice(first, first + nVars).map((l) => l.trim().split(/\s+/)[1].toLowerCase());
  const start = at + marker.length;
  const points = Math.floor((buf.byteLength - start) / (8 * nVars));
  const view = new DataView(buf.buffer, buf.byteOffset + start, points * nVars * 8);
  const vectors = new Map<string, Float64Array>();
  names.forEach((name, v) => {
    const a = new Float64Array(points);
    for (let p = 0; p < points; p++) a[p] = view.getFloat64((p * nVars + v) * 8, true);
    vectors.set(name, a);
  });
  return { vectors, points };
}

/** The simulator's error lines, joined: what a user needs to see when a run fails. */
export function errorLines(log: string): string {
  return log
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /error|doAnalyses|trouble with node|too small|failed|singular/i.test(l) && !/^Note:/.test(l))
    .filter((l, i, a) => a.indexOf(l) === i)
    .slice(0, 6)
    .join('; ');
}

/** The subset of eecircuit-engine's Simulation class used here (its API changed across versions). */
interface EecircuitSim {
  start(): Promise<void>;
  setNetList(deck: string): void;
  runSim?(): Promise<EecircuitResult>;
  runSimP?(): Promise<void>;
  getResult?(): EecircuitResult;
  getError?(): string[];
  getInfo?(): string;
}
interface EecircuitResult {
  data?: { name: string; values: number[] }[];
}

/** ngspice compiled to WebAssembly (npm eecircuit-engine): same decks, run in-process. */
class WasmEngine implements SpiceEngine {
  readonly name = 'wasm';
  readonly version = 'eecircuit-engine';
  private constructor(private readonly sim: EecircuitSim) {}

  static async start(mod: unknown): Promise<WasmEngine> {
    const Sim = (mod as { Simulation?: new () => EecircuitSim }).Simulation;
    if (!Sim) throw new XbarError(`eecircuit-engine has no Simulation class: ${INSTALL}`);
    const sim = new Sim();
    await sim.start();
    return new WasmEngine(sim);
  }

  async run(deck: string): Promise<SpiceRun> {
    this.sim.setNetList(deck);
    let result: EecircuitResult | undefined;
    if (this.sim.runSimP && this.sim.getResult) {
      await this.sim.runSimP();
      result = this.sim.getResult();
    } else result = await this.sim.runSim?.();
    const log = `${this.sim.getInfo?.() ?? ''}\n${(this.sim.getError?.() ?? []).join('\n')}`;
    const vectors = new Map<string, Float64Array>();
    for (const d of result?.data ?? []) vectors.set(d.name.toLowerCase(), Float64Array.from(d.values));
    const points = Math.min(...[...vectors.values()].map((v) => v.length));
    return { vectors, points: Number.isFinite(points) ? points : 0, log };
  }
}
