// Prints the Markdown table of docs/devices.md ("Accuracy after programming") from the
// summary.csv files that scripts/experiments/devices-table.sh writes under runs/devices/.
// Usage: node scripts/experiments/devices-table-md.mjs [dir]   (default runs/devices)
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? 'runs/devices';
const TIMES = ['1s', '1h', '1d', '1mo', '1y'];
const rows = [];
for (const m of ['mlp', 'lenet5'])
  for (const dev of ['pcm-joshi2020', 'reram-wan2022'])
    for (const cells of [1, 2]) {
      const file = join(dir, `${m}-${dev}-${cells}pair`, 'summary.csv');
      if (!existsSync(file)) {
        rows.push(`| ${m} | ${dev} | ${cells} | (not run) |  |  |  |  |  |`);
        continue;
      }
      const byKey = new Map();
      for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
        const f = line.split(',');
        byKey.set(f[1], { mean: Number(f[3]), std: Number(f[4]), n: Number(f[2]) });
      }
      for (const comp of ['none', 'global']) {
        const cellsOf = TIMES.map((t) => {
          const r = byKey.get(`${comp}@${t}`);
          return r ? `${(100 * r.mean).toFixed(2)}% +- ${(100 * r.std).toFixed(2)}` : '-';
        });
        rows.push(`| ${m} | ${dev} | ${cells} | ${comp} | ${cellsOf.join(' | ')} |`);
      }
    }
console.log('| model | device | pairs per weight | drift compensation | 1 s | 1 h | 1 d | 1 month | 1 year |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
