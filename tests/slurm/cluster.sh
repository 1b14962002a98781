#!/usr/bin/env bash
# A real, single-node SLURM cluster on localhost for the tests: munged, a private MariaDB, slurmdbd (accounting, so
# `sacct` works as on a real cluster), slurmctld and slurmd, with two fake GPUs (GRES files that are links to
# /dev/null, so `--gpus=1` really allocates one and sets CUDA_VISIBLE_DEVICES).
#
#   tests/slurm/cluster.sh install   # apt-get the Debian packages (root; Slurm 22.05 on Debian 12)
#   tests/slurm/cluster.sh up        # start everything under $SYNREC_SLURM_DIR (default /tmp/synrec-slurm)
#   tests/slurm/cluster.sh env       # print the `export SLURM_CONF=...` line clients need
#   tests/slurm/cluster.sh down      # stop exactly the daemons `up` started (their pids are recorded)
#
# Everything lives in $SYNREC_SLURM_DIR (configs, state, logs, the database). So that every client finds the
# config (srun inside a job does not see SLURM_CONF), /etc/slurm/slurm.conf and gres.conf are made links to it when
# no slurm.conf is there yet, and removed by `down`; an existing /etc/slurm/slurm.conf is never touched (then `up`
# stops). Runs as root (CI and the dev machines are root).
set -euo pipefail

D=${SYNREC_SLURM_DIR:-/tmp/synrec-slurm}
CLUSTER=synrec
ACCOUNT=synrec
PACKAGES="munge slurmctld slurmd slurm-client slurmdbd mariadb-server"

log() { echo "[synrec-slurm] $*" >&2; }
die() { log "ERROR: $*"; for f in "$D"/*.log; do [ -s "$f" ] && { log "--- $f"; tail -n 15 "$f" >&2; }; done; exit 1; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2; shift 2
  for _ in $(seq "$((secs * 4))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
  die "timed out after ${secs}s waiting for $what"
}

start() {  # start NAME COMMAND... : run in the background, remember the pid
  local name=$1; shift
  "$@" >>"$D/$name.out" 2>&1 &
  echo "$!" >"$D/pids/$name"
}

install() {
  command -v slurmctld >/dev/null && command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null && return 0
  [ "$(id -u)" = 0 ] || die "installing the Slurm packages needs root"
  log "installing $PACKAGES"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $PACKAGES >/dev/null
}

write_configs() {
  local cpus=${SYNREC_SLURM_CPUS:-4}
  mkdir -p "$D"/{state,spool,pids,db,run}
  ln -sf /dev/null "$D/fakegpu0"
  ln -sf /dev/null "$D/fakegpu1"
  cat >"$D/slurm.conf" <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=500
SlurmdParameters=config_overrides
ReturnToService=2
GresTypes=gpu
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStorageTRES=gres/gpu
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=5
JobCompType=jobcomp/none
AccountingStoreFlags=job_comment
MinJobAge=30
KillWait=5
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=512000 Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$D/gres.conf" <<EOF
NodeName=localhost Name=gpu File=$D/fakegpu[0-1]
EOF
  cat >"$D/slurmdbd.conf" <<EOF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
PidFile=$D/run/slurmdbd.pid
LogFile=$D/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StoragePort=3306
StorageLoc=slurm_acct_db
StorageUser=root
EOF
  chmod 600 "$D/slurmdbd.conf"
}

clear_leftovers() {
  # A run of this script that crashed or was killed (a stopped CI job, say) leaves its daemons running and the
  # /etc/slurm links pointing into its own state directory; a new `up` would then find the ports taken. Recognise
  # such leftovers by those links and stop them: with that run's `down` where its pid files remain, else by the
  # state path on the daemons' command line or in their environment (SLURM_CONF).
  local f old pid
  for f in slurm.conf gres.conf; do
    [ -L "/etc/slurm/$f" ] || continue
    old=$(dirname "$(readlink "/etc/slurm/$f")")
    [ "$old" = "$D" ] && continue
    log "clearing the leftovers of an earlier run in $old"
    [ -d "$old/pids" ] && SYNREC_SLURM_DIR="$old" bash "$0" down || true
    for pid in $(for n in slurmd slurmctld slurmdbd mariadbd; do pgrep -x "$n" || true; done); do
      if tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$old/" \
        || tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx -- "SLURM_CONF=$old/slurm.conf"; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -9 "$pid" 2>/dev/null || true
      fi
    done
    rm -f "/etc/slurm/$f"
  done
  if [ -L /run/mysqld/mysqld.sock ] && [ "$(readlink /run/mysqld/mysqld.sock)" != "$D/run/mysqld.sock" ]; then
    rm -f /run/mysqld/mysqld.sock
  fi
}

up() {
  install
  if [ -f "$D/pids/slurmd" ] && kill -0 "$(cat "$D/pids/slurmd")" 2>/dev/null; then log "already up ($D)"; return 0; fi
  clear_leftovers
  write_configs
  export SLURM_CONF=$D/slurm.conf
  # munge: the packaged key; its own socket directory
  mkdir -p /run/munge && chown munge:munge /run/munge
  if ! pgrep -x munged >/dev/null; then
    start munged runuser -u munge -- /usr/sbin/munged --foreground
  fi
  wait_for 10 munged munge -n
  # MariaDB: a private data directory, no TCP port, reached through its own socket
  if [ ! -d "$D/db/mysql" ]; then
    mariadb-install-db --user=root --datadir="$D/db" --auth-root-authentication-method=normal >"$D/mariadb-install.out" 2>&1 \
      || die "mariadb-install-db failed (see $D/mariadb-install.out)"
  fi
  start mariadbd mariadbd --user=root --datadir="$D/db" --socket="$D/run/mysqld.sock" --skip-networking \
    --pid-file="$D/run/mariadbd.pid" --log-error="$D/mariadbd.log"
  wait_for 30 MariaDB mariadb --socket="$D/run/mysqld.sock" -e "select 1"
  # slurmdbd talks to "localhost", which the MySQL client library resolves to the default socket: point it at ours
  mkdir -p /run/mysqld
  [ -e /run/mysqld/mysqld.sock ] && [ ! -L /run/mysqld/mysqld.sock ] && die "another MariaDB owns /run/mysqld/mysqld.sock"
  ln -sfn "$D/run/mysqld.sock" /run/mysqld/mysqld.sock
  echo /run/mysqld/mysqld.sock >"$D/pids/socket-link"
  for f in slurm.conf gres.conf; do
    if [ -L "/etc/slurm/$f" ] || [ ! -e "/etc/slurm/$f" ]; then
      mkdir -p /etc/slurm && ln -sfn "$D/$f" "/etc/slurm/$f" && echo "/etc/slurm/$f" >>"$D/pids/links"
    else
      die "/etc/slurm/$f exists and is not ours: this script will not replace a real cluster's config"
    fi
  done
  start slurmdbd slurmdbd -D  # reads slurmdbd.conf beside $SLURM_CONF
  wait_for 30 slurmdbd sacctmgr -n list cluster
  sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -i add account "$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true
  sacctmgr -i add user root Account="$ACCOUNT" Cluster="$CLUSTER" >/dev/null 2>&1 || true
  start slurmctld slurmctld -D -f "$SLURM_CONF"
  wait_for 30 slurmctld scontrol ping
  start slurmd slurmd -D -N localhost -f "$SLURM_CONF"
  wait_for 30 "the node to be idle" bash -c "sinfo -h -N -o %t | grep -qx idle"
  log "up: $(sinfo -h -o '%P %D %t %G') (SLURM_CONF=$SLURM_CONF)"
}

down() {
  [ -d "$D/pids" ] || { log "nothing to stop"; return 0; }
  for name in slurmd slurmctld slurmdbd mariadbd munged; do
    f="$D/pids/$name"
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$f"
  done
  if [ -f "$D/pids/socket-link" ]; then rm -f "$(cat "$D/pids/socket-link")"; rm -f "$D/pids/socket-link"; fi
  if [ -f "$D/pids/links" ]; then
    while read -r link; do [ -L "$link" ] && [ "$(readlink "$link")" = "$D/$(basename "$link")" ] && rm -f "$link"; done <"$D/pids/links"
    rm -f "$D/pids/links"
  fi
  log "down"
}

case "${1:-}" in
  install) install ;;
  up) up ;;
  down) down ;;
  env) echo "export SLURM_CONF=$D/slurm.conf" ;;
  *) echo "usage: $0 install|up|down|env" >&2; exit 2 ;;
esac
