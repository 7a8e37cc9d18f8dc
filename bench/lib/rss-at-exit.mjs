// Preloaded into the cluster benches' xbar processes (`node --import`): at exit, writes the process's
// peak resident set size (KiB, worker threads included) to the file named by XBAR_BENCH_RSS_FILE, since a
// parent cannot read a finished child's maxRSS from Node.
import { writeFileSync } from 'node:fs';

const file = process.env.XBAR_BENCH_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
