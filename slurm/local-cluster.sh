#!/bin/bash
# A one-node Slurm cluster on localhost, for trying `harness sweep --slurm` on a laptop or in CI.
#
#   slurm/local-cluster.sh install   apt-get the Debian packages (slurmctld slurmd slurm-client munge)
#   slurm/local-cluster.sh start     write the config, start munged, slurmctld, slurmd; wait for idle
#   slurm/local-cluster.sh status    daemons, sinfo, queue
#   slurm/local-cluster.sh stop      stop what `start` started (by pid file)
#
# Run as root, without systemd: the daemons are started by hand and run as root. Only `install`
# installs anything. State, spool, logs and pid files live in a private directory,
# $HARNESS_SLURM_DIR (default /var/tmp/harness-slurm). The configuration goes to
# /etc/slurm/slurm.conf, where every Slurm client looks for it; an existing file that this script
# did not write is left alone (set HARNESS_SLURM_FORCE=1 to replace it).
#
# The node declares its real CPU count ($(nproc)), so Slurm never places two jobs on the same
# cores (a 1-task and a 2-task array job of one sweep would otherwise run at once on 2 cores and
# measure each other); $HARNESS_SLURM_CPUS overrides it (with SlurmdParameters=config_overrides)
# for trying jobs wider than the machine, whose times are then contended. Accounting is
# off (`sacct` does not work; `harness status` asks squeue), MinJobAge is 5 s (finished jobs
# leave the controller, and squeue, quickly), and DependencyParameters=kill_invalid_depend
# cancels jobs whose dependencies can never be met. The partition is called "local".
set -euo pipefail

STATE_DIR=${HARNESS_SLURM_DIR:-/var/tmp/harness-slurm}
CONF=/etc/slurm/slurm.conf
MARK="# written by harness slurm/local-cluster.sh"
HOST=$(hostname -s)
NPROC=$(nproc)
CPUS=${HARNESS_SLURM_CPUS:-$NPROC}
PARTITION=local

die() { echo "local-cluster: $*" >&2; exit 1; }
need_root() { [ "$(id -u)" -eq 0 ] || die "run as root (the daemons run as root here)"; }
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

install() {
    need_root
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends slurmctld slurmd slurm-client munge
}

write_conf() {
    if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF" && [ "${HARNESS_SLURM_FORCE:-0}" != 1 ]; then
        die "$CONF exists and was not written by this script; set HARNESS_SLURM_FORCE=1 to replace it"
    fi
    mkdir -p /etc/slurm "$STATE_DIR"/{state,spool,log}
    cat > "$CONF.tmp" <<EOF
$MARK
ClusterName=harness-local
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
MinJobAge=5
DependencyParameters=kill_invalid_depend
SlurmdParameters=config_overrides
StateSaveLocation=$STATE_DIR/state
SlurmdSpoolDir=$STATE_DIR/spool
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
NodeName=$HOST CPUs=$CPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
    mv -f "$CONF.tmp" "$CONF"
}

start_munge() {
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
        return  # a munged is already answering
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    chmod 755 /run/munge
    chmod 700 /var/lib/munge /var/log/munge
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --force
    fi
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    runuser -u munge -- /usr/sbin/munged
    touch "$STATE_DIR/munged.started"  # so `stop` stops only a munged that `start` started
    for _ in $(seq 50); do
        munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && return
        sleep 0.1
    done
    die "munged did not answer"
}

start() {
    need_root
    command -v slurmctld >/dev/null || die "Slurm is not installed; run: $0 install"
    write_conf
    start_munge
    pid_alive "$STATE_DIR/slurmctld.pid" || slurmctld
    pid_alive "$STATE_DIR/slurmd.pid" || slurmd
    for _ in $(seq 60); do
        state=$(sinfo -h -o %T 2>/dev/null | head -n1 || true)
        case "$state" in
            idle|mixed|allocated) echo "local-cluster: up, node $HOST ($CPUS CPUs) $state, partition $PARTITION"; return ;;
            down*|drain*) scontrol update nodename="$HOST" state=resume 2>/dev/null || true ;;
        esac
        sleep 0.5
    done
    die "the node did not become idle; see $STATE_DIR/log/"
}

stop_pid() {
    local file=$1 name=$2
    if pid_alive "$file"; then
        local pid
        pid=$(cat "$file")
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && die "$name (pid $pid) did not stop"
        echo "local-cluster: stopped $name"
    fi
    rm -f "$file"
}

stop() {
    need_root
    stop_pid "$STATE_DIR/slurmd.pid" slurmd
    stop_pid "$STATE_DIR/slurmctld.pid" slurmctld
    if [ -e "$STATE_DIR/munged.started" ]; then
        stop_pid /run/munge/munged.pid munged
        rm -f "$STATE_DIR/munged.started"
    fi
}

status() {
    for d in slurmctld slurmd; do
        if pid_alive "$STATE_DIR/$d.pid"; then echo "$d: running (pid $(cat "$STATE_DIR/$d.pid"))"
        else echo "$d: not running"; fi
    done
    if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then echo "munged: answering"
    else echo "munged: not answering"; fi
    if command -v sinfo >/dev/null && sinfo >/dev/null 2>&1; then
        sinfo
        squeue
    else
        return 1
    fi
}

case "${1:-}" in
    install) install ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 install|start|stop|status" >&2; exit 2 ;;
esac
