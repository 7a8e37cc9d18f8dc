#!/usr/bin/env bash
# Installs the Debian packages xbar's features need, by group, skipping what is already there.
#   core   libopenblas-dev        native GEMM kernels (npm ci also installs it when run as root)
#   data   dataset-fashion-mnist  the Fashion-MNIST IDX files
#   spice  ngspice                the reference SPICE simulator the behavioural model is checked against
#   bench  python3-torch, python3-numpy, libopenblas0-pthread   the peers the benchmarks compare against
#   browser chromium, fonts-dejavu-core   headless browser: PNG export of report plots and the report's browser test
#   onnx   python3-onnx           the ONNX project's checker, run on xbar's exported files (test/onnx/export.test.ts)
#   slurm  slurm-wlm, munge       a one-node Slurm cluster on this machine (scripts/slurm-local.sh) for `xbar slurm`
#   test   core data spice browser onnx slurm: everything the test suite needs (what `npm ci` installs as root)
# Usage: bash scripts/install-system-deps.sh [core] [data] [spice] [bench] [browser] [onnx] [slurm] [test] (no argument: test)
set -euo pipefail
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(test)
pkgs=()
for g in "${groups[@]}"; do
  case "$g" in
    core) pkgs+=(libopenblas-dev) ;;
    data) pkgs+=(dataset-fashion-mnist) ;;
    spice) pkgs+=(ngspice) ;;
    bench) pkgs+=(python3-torch python3-numpy libopenblas0-pthread) ;;
    browser) pkgs+=(chromium fonts-dejavu-core) ;;
    onnx) pkgs+=(python3-onnx) ;;
    slurm) pkgs+=(slurm-wlm munge) ;;
    test) pkgs+=(libopenblas-dev dataset-fashion-mnist ngspice chromium fonts-dejavu-core python3-onnx slurm-wlm munge) ;;
    *) echo "install-system-deps: unknown group '$g' (use core, data, spice, bench, browser, onnx, slurm, test)" >&2; exit 2 ;;
  esac
done
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "system packages present: ${pkgs[*]}"; exit 0; }
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-deps: missing ${missing[*]}; run as root: apt-get install --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# A fresh image has no package lists: refresh them first (apt-get install alone would find nothing).
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed ${missing[*]}"
