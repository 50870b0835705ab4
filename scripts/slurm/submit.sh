#!/bin/bash
# Submits an xfer experiment to Slurm: a job array of N shards (sweep.sbatch), then the merge
# (merge.sbatch) with --dependency=afterany on the array. Checks the config first (xfer validate
# --strict, from the jobs' working directory) and the resources against the partition (sinfo), so
# that what cannot run is refused before anything is queued. Prints the two job ids.
#   scripts/slurm/submit.sh CONFIG N [OUT_DIR] [options] [-- sbatch options for both jobs]
# Options (docs/slurm.md):
#   --gpus G       GPUs per shard (default: 1 when the config's device is cuda, or auto and the
#                  partition has gpu gres; else 0, submitted as --gres=none)
#   --cpus C       CPUs per shard (default: 4, or the largest node's CPUs when it has fewer)
#   --mem SIZE     memory per shard, sbatch syntax (default: xfer's estimate for the config)
#   --time T       time limit per shard (default: the partition's default)
#   --partition P, --account A, --qos Q   for the array and the merge
#   --merge-mem SIZE, --merge-time T      for the merge (defaults 2G, 01:00:00)
#   --shards I,J   run only these shards of the N-way split (to resume them); merge all N after
#   --workdir DIR  the jobs' working directory, where the config's relative paths start
#                  (default: the current directory)
#   --dry-run      check everything and print the sbatch commands, queue nothing
# Environment: XFER_BIN (default: build/xfer of this repository), XFER_RUN_ARGS (see sweep.sbatch).
set -euo pipefail
me=$0
usage() {
    sed -n '6,20p' "$me" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
die() {
    echo "submit.sh: $*" >&2
    exit 2
}
[ $# -ge 2 ] || usage
config=$1 n=$2
shift 2
out=results/$(basename "${config%.*}")
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
    out=$1
    shift
fi
gpus="" cpus="" mem="" time_limit="" partition="" account="" qos="" shards="" dry=0
merge_mem=2G merge_time=01:00:00 workdir=$PWD
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --gpus | --cpus | --mem | --time | --partition | --account | --qos | --shards | --workdir | \
        --merge-mem | --merge-time)
        [ $# -ge 2 ] || die "$1 needs a value"
        v=$2
        case $1 in
        --gpus) gpus=$v ;; --cpus) cpus=$v ;; --mem) mem=$v ;; --time) time_limit=$v ;;
        --partition) partition=$v ;; --account) account=$v ;; --qos) qos=$v ;;
        --shards) shards=$v ;; --workdir) workdir=$v ;;
        --merge-mem) merge_mem=$v ;; --merge-time) merge_time=$v ;;
        esac
        shift 2
        ;;
    --dry-run) dry=1 && shift ;;
    --) shift && extra=("$@") && break ;;
    *) die "unknown option '$1' (sbatch options go after --)" ;;
    esac
done
[[ "$n" =~ ^[1-9][0-9]*$ ]] || die "N_SHARDS must be a positive integer, got '$n'"
[ -z "$gpus" ] || [[ "$gpus" =~ ^[0-9]+$ ]] || die "--gpus must be a whole number, got '$gpus'"
[ -z "$cpus" ] || [[ "$cpus" =~ ^[1-9][0-9]*$ ]] || die "--cpus must be a positive integer, got '$cpus'"
[ -f "$config" ] || die "$config: no such file"
[ -d "$workdir" ] || die "--workdir $workdir: no such directory"
here=$(cd "$(dirname "$0")" && pwd)
abs() { case $1 in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
config=$(abs "$config")
out=$(abs "$out")
workdir=$(cd "$workdir" && pwd)
bin=$(abs "${XFER_BIN:-$here/../../build/xfer}")
[ -x "$bin" ] || die "$bin: no xfer binary (build it, or set XFER_BIN)"

# The shards to run: all, or the --shards list (each < N, no repeats).
if [ -n "$shards" ]; then
    [[ "$shards" =~ ^[0-9]+(,[0-9]+)*$ ]] || die "--shards must be a list like 1,4, got '$shards'"
    for s in ${shards//,/ }; do
        [ "$s" -lt "$n" ] || die "--shards: $s is not a shard of $n (0..$((n - 1)))"
    done
    [ "$(tr , '\n' <<<"$shards" | sort -n | uniq -d)" = "" ] || die "--shards: '$shards' repeats a shard"
    array_spec=$shards
else
    array_spec="0-$((n - 1))"
fi

# 1. The config, as the jobs will see it: from their working directory, every file present.
if ! check=$(cd "$workdir" && "$bin" validate --strict --shards "$n" "$config" 2>&1); then
    echo "$check" >&2
    die "not queued: the config does not validate from the jobs' working directory $workdir" \
        "(its relative paths start there; run from the directory they start from or pass --workdir)"
fi
echo "$check" | grep '^shard ' || true
device=$(sed -n 's/^estimate: .*device=\([a-z]*\).*/\1/p' <<<"$check")
est_mb=$(sed -n 's/^estimate: memory_mb=\([0-9]*\).*/\1/p' <<<"$check")

# 2. What the partition offers (the largest node), to refuse requests no node can satisfy.
node_cpus="" node_mem="" node_gres="" info=""
if command -v sinfo >/dev/null; then
    if ! nodes=$(sinfo -h -N -o '%P %c %m %G' 2>&1); then
        echo "submit.sh: warning: sinfo failed, resources not checked: $nodes" >&2
    elif [ -n "$partition" ]; then
        info=$(awk -v p="$partition" '{ q = $1; sub(/\*$/, "", q) } q == p { $1 = ""; print }' <<<"$nodes")
        [ -n "$info" ] || die "not queued: no partition '$partition' (sinfo -s lists them)"
    else # the default partition is the one sinfo marks with '*'
        info=$(awk '$1 ~ /\*$/ { $1 = ""; print }' <<<"$nodes")
    fi
    if [ -n "$info" ]; then
        node_cpus=$(awk '{ c = $1 + 0; if (c > m) m = c } END { print m }' <<<"$info")
        node_mem=$(awk '{ c = $2 + 0; if (c > m) m = c } END { print m }' <<<"$info")
        node_gres=$(awk '{ print $3 }' <<<"$info" | sort -u | paste -sd, -)
    fi
fi
has_gpu=0
[[ "$node_gres" == *gpu* ]] && has_gpu=1
if [ -z "$gpus" ]; then # device cuda: 1, auto: 1 where the partition has GPUs, cpu: 0
    gpus=0
    [ "$device" = cuda ] && gpus=1
    [ "$device" = auto ] && gpus=$has_gpu
fi
if [ -z "$cpus" ]; then
    cpus=4
    [ -n "$node_cpus" ] && [ "$node_cpus" -lt 4 ] && cpus=$node_cpus
fi
[ -n "$mem" ] || mem="$(((${est_mb:-1024} + 255) / 256 * 256))M"
[[ "$mem" =~ ^[0-9]+[KkMmGgTt]?$ ]] || die "--mem: '$mem' is not a size like 4096M or 4G"
to_mb() { # sbatch sizes: plain number = MB, K/M/G/T suffixes
    local v=${1%[KkMmGgTt]} u
    u=$(tr '[:lower:]' '[:upper:]' <<<"${1##*[0-9]}")
    local scale=1
    [ "$u" = G ] && scale=1024
    [ "$u" = T ] && scale=$((1024 * 1024))
    if [ "$u" = K ]; then echo $((v / 1024)); else echo $((v * scale)); fi
}
where=${partition:-the default partition}
if [ -n "$node_cpus" ] && [ "$cpus" -gt "$node_cpus" ]; then
    die "not queued: --cpus $cpus: the largest node of $where has $node_cpus CPUs (the job would pend forever)"
fi
if [ -n "$node_mem" ] && [ "$(to_mb "$mem")" -gt "$node_mem" ]; then
    die "not queued: --mem $mem: the largest node of $where has ${node_mem} MB (xfer estimates ${est_mb} MB per shard)"
fi
if [ "$gpus" -gt 0 ] && [ -n "$node_gres" ] && [ "$has_gpu" = 0 ]; then
    die "not queued: --gpus $gpus: $where has no GPU gres ($node_gres); use --gpus 0 or another --partition"
fi
gres=none
[ "$gpus" -gt 0 ] && gres=gpu:$gpus

common=()
[ -z "$partition" ] || common+=(--partition="$partition")
[ -z "$account" ] || common+=(--account="$account")
[ -z "$qos" ] || common+=(--qos="$qos")
array_opts=(--array="$array_spec" --cpus-per-task="$cpus" --mem="$mem" --gres="$gres")
[ -z "$time_limit" ] || array_opts+=(--time="$time_limit")
merge_opts=(--cpus-per-task=1 --mem="$merge_mem" --gres=none --time="$merge_time")

# A shard neither re-run now nor present will stop the merge: say so before queueing.
if [ -n "$shards" ]; then
    for ((i = 0; i < n; i++)); do
        [[ ",$shards," == *",$i,"* ]] || [ -f "$out/shard-$i-of-$n.h5" ] ||
            echo "submit.sh: warning: shard $i has no file in $out and is not in --shards: the merge will report it" >&2
    done
fi

resume="$here/submit.sh $config $n $out --gpus $gpus --cpus $cpus --mem $mem"
[ -z "$time_limit" ] || resume+=" --time $time_limit"
[ -z "$partition" ] || resume+=" --partition $partition"
[ -z "$account" ] || resume+=" --account $account"
[ -z "$qos" ] || resume+=" --qos $qos"
[ "$workdir" = "$PWD" ] || resume+=" --workdir $workdir"
export XFER_CONFIG=$config XFER_OUT=$out XFER_SHARDS=$n XFER_BIN=$bin XFER_RESUME=$resume
logs=$out/logs
sweep_cmd=(sbatch --parsable --chdir="$workdir" --output="$logs/sweep-%A_%a.log"
    "${array_opts[@]}" "${common[@]}" "${extra[@]}" "$here/sweep.sbatch")
merge_cmd=(sbatch --parsable --chdir="$workdir" --output="$logs/merge-%j.log"
    "${merge_opts[@]}" "${common[@]}" "${extra[@]}" --dependency=afterany:ARRAY "$here/merge.sbatch")
if [ "$dry" = 1 ]; then
    echo "dry run: ${sweep_cmd[*]}"
    echo "dry run: ${merge_cmd[*]}"
    exit 0
fi
mkdir -p "$logs"
array=$("${sweep_cmd[@]}") || die "sbatch refused the array (see above); nothing queued"
array=${array%%;*} # --parsable prints "jobid[;cluster]"
merge_cmd=("${merge_cmd[@]/--dependency=afterany:ARRAY/--dependency=afterany:$array}")
if ! merge=$("${merge_cmd[@]}"); then
    scancel "$array" || true
    die "sbatch refused the merge (see above), so the array $array was cancelled; nothing runs"
fi
merge=${merge%%;*}
{
    echo "submitted $(date -u +%Y-%m-%dT%H:%M:%SZ) from $PWD"
    echo "array job $array: shards $array_spec of $n, ${cpus} CPUs, $mem, gres $gres${time_limit:+, time $time_limit}"
    echo "merge job $merge: after the array (afterany), $merge_mem, $merge_time"
    echo "config $config, working directory $workdir, xfer $bin"
    echo "$check"
} >"$logs/submit-$array.txt"
echo "array job $array (shards $array_spec of $n, $cpus CPUs, $mem, gres $gres each), merge job $merge -> $out/results.h5"
echo "logs: $logs/ (sweep-${array}_<shard>.log, merge-$merge.log, submit-$array.txt)"
