#!/usr/bin/env bash
# The accuracy-after-programming table of docs/devices.md: each model on each measured-device
# preset, 100 chips, read 1 s, 1 h, 1 d, 1 month and 1 year after programming, without and with
# (global) drift compensation, with 1 and 2 differential pairs per weight. Each command programs
# its chips once and ages them to the five times.
# Usage: bash scripts/experiments/devices-table.sh [test images] [models]   (after npm ci)
#   test images: the first n test images (default: all 10000); models: default "mlp lenet5",
#   trained into runs/<model> by `xbar train --model <model> --out runs/<model>` if missing.
#   PARALLEL=1 runs the configurations side by side (one process each).
# Results: runs/devices/<model>-<device>-<cells>pair/summary.csv (rows none@1s ... global@1y).
set -euo pipefail
cd "$(dirname "$0")/../.."
xbar=${XBAR:-dist/cli/main.js}
limit=${1:-}
models=${2:-mlp lenet5}
one() {
  local m=$1 dev=$2 cells=$3
  echo "== $m on $dev, $cells pair(s) per weight${limit:+, first $limit test images}"
  node "$xbar" simulate -m "runs/$m" --device "$dev" --chips 100 --seed 1 ${limit:+--limit-test "$limit"} \
    --cells-per-weight "$cells" --time 1s,1h,1d,1mo,1y --sweep drift-compensation=none,global \
    --workers 1 --maps 0 --quiet --out "runs/devices/$m-$dev-${cells}pair"
}
for m in $models; do
  [ -f "runs/$m/model.json" ] || node "$xbar" train --model "$m" --out "runs/$m" --quiet
  for dev in pcm-joshi2020 reram-wan2022; do
    for cells in 1 2; do
      if [ -n "${PARALLEL:-}" ]; then one "$m" "$dev" "$cells" & else one "$m" "$dev" "$cells"; fi
    done
  done
done
wait
