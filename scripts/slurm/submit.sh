#!/bin/bash
# Submits an xfer experiment to Slurm: a job array of N shards (sweep.sbatch), then the merge
# (merge.sbatch) with --dependency=afterok on the whole array. Prints the two job ids.
#   scripts/slurm/submit.sh CONFIG N [OUT_DIR] [-- extra sbatch options for the array]
# Example: scripts/slurm/submit.sh configs/paper.yaml 8 results/paper -- --partition=gpu
set -euo pipefail
usage() { echo "usage: $0 CONFIG N_SHARDS [OUT_DIR] [-- sbatch options for the array]" >&2; exit 2; }
[ $# -ge 2 ] || usage
config=$1 n=$2
shift 2
out=results/$(basename "${config%.*}")
if [ $# -gt 0 ] && [ "$1" != "--" ]; then out=$1; shift; fi
if [ $# -gt 0 ] && [ "$1" = "--" ]; then shift; fi
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "$0: N_SHARDS must be a positive integer, got '$n'" >&2; exit 2; }
[ -f "$config" ] || { echo "$0: $config: no such file" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)

export XFER_CONFIG=$config XFER_OUT=$out XFER_SHARDS=$n
mkdir -p "$out"
array=$(sbatch --parsable --array="0-$((n - 1))" "$@" "$here/sweep.sbatch")
array=${array%%;*} # --parsable prints "jobid[;cluster]"
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
    "$here/merge.sbatch")
merge=${merge%%;*}
echo "array job $array ($n shards of $config), merge job $merge -> $out/results.h5"
