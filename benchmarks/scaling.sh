#!/usr/bin/env bash
# A real scaling curve on one machine with 16 or more cores: strong and weak sweeps of every
# workload (cfd, fea, opt, param; each workload's default variant) at 1, 2, 4, 8 and 16 ranks,
# through `harness sweep --local`, then `harness analyze` over all of them. First `harness probe`
# at the largest rank count measures the machine (links, allreduce, halo, memory, file I/O) and
# writes its machine model, for `harness predict --machine OUT_DIR/probe/machine.toml`.
#
#   benchmarks/scaling.sh OUT_DIR           # the full run (refuses fewer than 16 CPUs)
#   benchmarks/scaling.sh --dry OUT_DIR     # 1 and 2 ranks, size tiny, one run per point:
#                                           # checks the script end to end on a laptop
#
# Writes OUT_DIR/spec-strong.toml and OUT_DIR/spec-weak.toml (the specs it ran), the sweep
# directories (records, sweep.json) under OUT_DIR, OUT_DIR/machine.txt (lscpu, nproc, memory),
# OUT_DIR/probe/ (the probe record and machine.toml; --dry: quick sizes) and
# OUT_DIR/analysis.txt (the analyzer's table). Environment overrides: CORES ("1 2 4 8 16"),
# STRONG_SIZE (large), WEAK_SIZE (medium: one rank's share), REPETITIONS (3 runs per point),
# REPS (5 timed repetitions per run), TIME_LIMIT (00:20:00 per run), HARNESS (the harness
# command, default .venv/bin/harness beside this checkout).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dry=0
if [[ "${1:-}" == "--dry" ]]; then dry=1; shift; fi
if [[ $# -ne 1 ]]; then
  echo "usage: benchmarks/scaling.sh [--dry] OUT_DIR" >&2
  exit 2
fi
out="$1"
harness="${HARNESS:-$here/.venv/bin/harness}"
if [[ ! -x "$harness" ]]; then
  echo "scaling.sh: $harness not found: run 'make .venv/.installed-stamp' first" >&2
  exit 2
fi

if (( dry )); then
  cores="${CORES:-1 2}"; strong="${STRONG_SIZE:-tiny}"; weak="${WEAK_SIZE:-tiny}"
  repetitions="${REPETITIONS:-1}"; reps="${REPS:-2}"; limit="${TIME_LIMIT:-05:00}"
else
  cores="${CORES:-1 2 4 8 16}"; strong="${STRONG_SIZE:-large}"; weak="${WEAK_SIZE:-medium}"
  repetitions="${REPETITIONS:-3}"; reps="${REPS:-5}"; limit="${TIME_LIMIT:-00:20:00}"
fi
largest=0
for c in $cores; do
  [[ "$c" =~ ^[1-9][0-9]*$ ]] || { echo "scaling.sh: CORES must be positive integers: $cores" >&2; exit 2; }
  (( c > largest )) && largest=$c
done
cpus="$(nproc)"
if (( largest > cpus )); then
  echo "scaling.sh: $largest ranks need $largest CPUs, this machine has $cpus (use --dry or CORES)" >&2
  exit 2
fi

mkdir -p "$out"
core_list="[$(echo $cores | sed 's/ /, /g')]"
write_spec() {  # mode size file
  {
    echo "name = \"scaling-$1\""
    echo "description = \"$1 scaling of every workload on one machine ($cpus CPUs)\""
    echo "cores = $core_list"
    echo "repetitions = $repetitions"
    echo "reps = $reps"
    echo "warmup = 1"
    echo "time_limit = \"$limit\""
    echo
    echo "[profile]"
    echo "name = \"this-machine\""
    echo "cores_per_node = $cpus"
    echo "launcher = \"mpiexec\""
    for w in cfd fea opt param; do
      echo
      echo "[[workload]]"
      echo "name = \"$w\""
      echo "mode = \"$1\""
      echo "size = \"$2\""
    done
  } > "$3"
}
write_spec strong "$strong" "$out/spec-strong.toml"
write_spec weak "$weak" "$out/spec-weak.toml"

{ date -u +%Y-%m-%dT%H:%M:%SZ; echo "nproc $cpus"; lscpu 2>/dev/null || true; free -g 2>/dev/null || true; } \
  > "$out/machine.txt"

stamp="$(date -u +%Y%m%dT%H%M%S)"
status=0
echo "== probe: $largest ranks"
probe_args=(--ranks "$largest" --out "$out/probe")
if (( dry )); then probe_args+=(--quick); fi
"$harness" probe "${probe_args[@]}" || status=$?
for mode in strong weak; do
  echo "== $mode sweep: cores $cores, size $([[ $mode == strong ]] && echo "$strong" || echo "$weak")"
  "$harness" sweep "$out/spec-$mode.toml" --local --out "$out" --sweep-id "scaling-$mode-$stamp" \
    || status=$?
done
echo "== analysis"
"$harness" analyze "$out/scaling-strong-$stamp" "$out/scaling-weak-$stamp" | tee "$out/analysis.txt" \
  || status=$?
echo "records: $out/scaling-{strong,weak}-$stamp/  table: $out/analysis.txt  model: $out/probe/machine.toml"
exit "$status"
