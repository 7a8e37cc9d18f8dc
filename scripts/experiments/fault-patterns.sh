#!/usr/bin/env bash
# The spatial-defect experiment of docs/faults.md: mlp-paper on digits8, 100 chips per row, every
# pattern at the same overall fault rate (default 1% of the cells of every array), stuck-on and
# stuck-off. Region densities are rate / (the region's share of the array).
# Usage: bash scripts/experiments/fault-patterns.sh [rate] [chips] [mapping]   (after npm ci)
# mapping: differential (default: a G+/G- pair per weight) or reference (one cell per weight and a
# shared reference column per array, docs/devices.md); results go to runs/fault-patterns[-reference]-<kind>.
set -euo pipefail
cd "$(dirname "$0")/../.."
rate=${1:-0.01}
chips=${2:-100}
mapping=${3:-differential}
suffix=""; [ "$mapping" = differential ] || suffix="-$mapping"
model=runs/mlp-paper
[ -f "$model/model.json" ] || node dist/cli/main.js train --model mlp-paper --seed 1 --out "$model" --quiet
d() { node -e "console.log(+(($1) * $rate).toPrecision(4))"; }
# shares of the unit array: circle r=.25: pi/16; complement r=.45: 1-pi*.2025; ring r=.3 w=.1: .06*pi; band .2; board .5
spec() {
  local k=$1
  echo "random:sa${2}=$rate;circle:radius=0.25,density=$(d "16/Math.PI"),kind=$k;circle-complement:radius=0.45,density=$(d "1/(1-Math.PI*0.2025)"),kind=$k;ring:radius=0.3,width=0.1,density=$(d "1/(0.06*Math.PI)"),kind=$k;rows:from=0.4,to=0.6,density=$(d 5),kind=$k;columns:from=0.4,to=0.6,density=$(d 5),kind=$k;checkerboard:density=$(d 2),kind=$k;row-gradient:min=0,density=$(d 2),kind=$k;column-gradient:min=0,density=$(d 2),kind=$k"
}
for kind in stuck-on stuck-off; do
  sa=1; [ "$kind" = stuck-off ] && sa=0
  echo "== $kind, overall fault rate $rate, $chips chips, no programming variation, $mapping mapping"
  node dist/cli/main.js simulate -m "$model" --chips "$chips" --seed 1 --sigma 0 --mapping "$mapping" --sweep "faults=$(spec $kind $sa)" --quiet --out "runs/fault-patterns$suffix-$kind"
done
