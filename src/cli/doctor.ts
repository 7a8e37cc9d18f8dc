import type { Command } from 'commander';
import { probeAll } from '../system/parts-node.js';
import { VERSION } from '../version.js';

/** `xbar doctor`: which optional parts of the machine are here, and the command for each missing one. */
export function registerDoctor(p: Command): void {
  p.command('doctor')
    .description(
      'check the optional parts (native kernels, ngspice, Chromium, Fashion-MNIST, ONNX checker, PyTorch peer) and print how to install what is missing',
    )
    .option('--json', 'print the table as JSON')
    .action((o) => {
      const parts = probeAll();
      if (o.json) {
        console.log(JSON.stringify({ xbarVersion: VERSION, node: process.version, parts }, null, 2));
        return;
      }
      console.log(`xbar ${VERSION}, node ${process.version}`);
      const width = Math.max(...parts.map((s) => s.what.length));
      for (const s of parts) {
        console.log(`${s.present ? 'ok     ' : 'MISSING'}  ${s.what.padEnd(width)}  ${s.detail}`);
        if (!s.present) console.log(`         ${''.padEnd(width)}  needed for ${s.for}; install: ${s.install}`);
      }
      const missingTested = parts.filter((s) => !s.present && s.tested);
      console.log(
        missingTested.length
          ? `${missingTested.length} part(s) the test suite needs are missing: as root, 'bash scripts/install-system-deps.sh test' installs them all`
          : 'everything the test suite needs is here',
      );
    });
}
