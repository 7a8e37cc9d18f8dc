#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for xbar's cluster tests and for trying `xbar slurm`
# without a cluster: munged (as the munge user, with a fresh key if none), slurmctld and slurmd on
# 127.0.0.1, no cgroup plugins (ProctrackType=proctrack/linuxproc, TaskPlugin=task/none), state,
# logs and slurm.conf under DIR. Needs root and Debian's slurm-wlm and munge
# (bash scripts/install-system-deps.sh slurm).
#   bash scripts/slurm-local.sh start DIR   starts it; prints `export SLURM_CONF=DIR/slurm.conf`
#   bash scripts/slurm-local.sh stop DIR    stops the daemons it started (munged too, if it started it)
# Ports: XBAR_SLURM_PORT (default 6817) for slurmctld, +1 for slurmd.
set -euo pipefail
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: bash scripts/slurm-local.sh start|stop DIR" >&2; exit 2; fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

stop() {
  for d in slurmd slurmctld munged; do
    pidf="$dir/$d.pid"
    [ -f "$pidf" ] || continue
    pid=$(cat "$pidf")
    if kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null || true; fi
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidf"
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
if [ "$cmd" != start ]; then echo "slurm-local: unknown command '$cmd' (use start or stop)" >&2; exit 2; fi

for tool in slurmctld slurmd munged mungekey sbatch; do
  command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/sbin/$tool" ] || {
    echo "slurm-local: $tool not found: run as root: bash scripts/install-system-deps.sh slurm" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm-local: starting slurmd needs root (run under sudo)" >&2; exit 1; }
PATH="$PATH:/usr/sbin"
port=${XBAR_SLURM_PORT:-6817}

# munge: the system's socket, a key made once.
if ! munge -n </dev/null >/dev/null 2>&1; then
  [ -f /etc/munge/munge.key ] || mungekey --create --keyfile=/etc/munge/munge.key
  chown munge:munge /etc/munge/munge.key && chmod 600 /etc/munge/munge.key
  mkdir -p /run/munge && chown munge:munge /run/munge
  su -s /bin/sh munge -c munged || { echo "slurm-local: munged did not start (see /var/log/munge/munged.log)" >&2; exit 1; }
  # Remember the munged we started (its own pid file sits where only munge may write), so stop ends it.
  pgrep -n -x munged > "$dir/munged.pid"
fi

mkdir -p "$dir/state" "$dir/spool"
cpus=$(nproc)
mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
cat > "$dir/slurm.conf" <<CONF
ClusterName=xbar-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
SlurmUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -i
slurmd -N localhost
for _ in $(seq 1 100); do
  if sinfo -h -o '%T' 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
    echo "export SLURM_CONF=$dir/slurm.conf"
    exit 0
  fi
  sleep 0.2
done
echo "slurm-local: the node did not come up within 20 s (see $dir/slurmctld.log and $dir/slurmd.log)" >&2
stop
exit 1
