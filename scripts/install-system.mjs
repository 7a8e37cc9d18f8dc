// The first step of `npm ci`/`npm install` in a checkout of xbar: installs the Debian packages the
// test suite and the main job need (scripts/install-system-deps.sh test) when run as root and
// they are missing; without root it prints the one apt-get line to run. Set XBAR_NO_APT=1 to skip.
// Never fails the install: what is missing is named again by `xbar doctor`, and by the tests
// (which fail under CI=true with the same install line).
// Installed as a dependency of another project, xbar leaves the system alone (the native-kernel
// step still installs OpenBLAS as root, as it always has).
import { spawnSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const same = (a, b) => {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
};
const isCheckout = process.env.INIT_CWD ? same(process.env.INIT_CWD, root) : true;
if (!isCheckout) process.exit(0);

const script = join(root, 'scripts', 'install-system-deps.sh');
if (process.env.XBAR_NO_APT) {
  console.log('xbar: XBAR_NO_APT is set: not installing system packages (xbar doctor lists what is missing)');
  process.exit(0);
}
if (process.platform !== 'linux') {
  console.log(`xbar: system packages are installed on Debian-like Linux only; on ${process.platform} see xbar doctor`);
  process.exit(0);
}
const r = spawnSync('bash', [script, 'test'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0)
  console.warn(
    'xbar: WARNING: the optional system packages are not all installed (above). xbar works without them; ' +
      'the tests that need them fail under CI=true and are skipped otherwise. Run `npx xbar doctor` to see each part.',
  );
process.exit(0);
