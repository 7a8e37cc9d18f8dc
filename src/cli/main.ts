#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { XbarError } from '../core/errors.js';
import { loadKernels } from '../core/kernels-node.js';
import { presets } from '../nn/presets.js';
import { VERSION } from '../version.js';
import { registerCluster } from './cluster.js';
import { registerCorrect } from './correct.js';
import { registerCorrectnet } from './correctnet.js';
import { registerCost } from './cost.js';
import { registerDemo } from './demo.js';
import { registerDoctor } from './doctor.js';
import { registerEval } from './eval.js';
import { registerFaults } from './faults.js';
import { registerOnnx } from './onnx.js';
import { registerReport } from './report.js';
import { registerSimulate } from './simulate.js';
import { registerSpice } from './spice.js';
import { registerTrain } from './train.js';

function program(): Command {
  const p = new Command('xbar')
    .description('Analog in-memory computing toolkit: train networks, simulate them on ReRAM crossbars, recover accuracy.')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  // Every command lives in its own module: register<Name>(p) each.
  registerTrain(p);
  registerEval(p);
  registerSimulate(p);
  registerOnnx(p);
  registerCorrectnet(p);
  registerCorrect(p);
  registerReport(p);
  registerSpice(p);
  registerDoctor(p);
  registerDemo(p);
  registerCost(p);
  registerFaults(p);
  registerCluster(p, program);

  p.command('presets')
    .description('list the model presets')
    .option('--json', 'print as JSON')
    .action((o) => {
      if (o.json) console.log(JSON.stringify(presets, null, 2));
      else for (const pr of Object.values(presets)) console.log(`${pr.name.padEnd(10)} ${pr.dataset.padEnd(14)} ${pr.description}`);
    });

  p.command('info')
    .description('show the numeric kernels and BLAS in use')
    .action(() => {
      const k = loadKernels();
      console.log(`xbar ${VERSION}, node ${process.version}, kernels ${k.name}, ${k.threads} thread(s)${k.blas ? `, ${k.blas}` : ''}`);
    });
  return p;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2; // commander already printed the message
    if (e instanceof XbarError) {
      process.stderr.write(`xbar: error: ${e.message}\n`);
      return 1;
    }
    const sys = e as NodeJS.ErrnoException;
    if (sys?.code && sys.syscall) {
      process.stderr.write(`xbar: error: ${sys.syscall} ${sys.path ?? ''} failed: ${sys.code} (${sys.message.split(':')[0]})\n`);
      return 1;
    }
    // A bug: keep the stack, it is what a bug report needs.
    process.stderr.write(`xbar: internal error: ${(e as Error)?.stack ?? e}\n`);
    return 70;
  }
}

process.exitCode = await main(process.argv.slice(2));
