#!/usr/bin/env bash
# capsim on a Slurm cluster: the draws as a job array of shards, then one merge job.
#
#   scripts/slurm-array.sh SCENARIO SHARDS DRAWS OUTDIR [extra `capsim run` arguments...]
#
# Run it on the login node. It submits this same script twice: as an array of SHARDS tasks
# (each runs `capsim run --shard I/SHARDS` into OUTDIR/shard-I), and as a merge job that starts
# when every shard has succeeded and writes the tables and charts to OUTDIR/merged — byte for
# byte what one run of all the draws would write. Set CAPSIM to the capsim binary if it is not
# on PATH, and adjust the #SBATCH lines to your cluster. A Kubernetes Indexed Job calls the
# same two commands (shard I = JOB_COMPLETION_INDEX, then one merge).
#SBATCH --job-name=capsim
#SBATCH --cpus-per-task=2
#SBATCH --mem=2G
#SBATCH --time=02:00:00
set -euo pipefail

if [ $# -lt 4 ]; then
  echo "usage: $0 SCENARIO SHARDS DRAWS OUTDIR [capsim run arguments...]" >&2
  exit 2
fi
scenario=$1 shards=$2 draws=$3 outdir=$4
shift 4
capsim=${CAPSIM:-capsim}

case "${CAPSIM_SLURM_MODE:-submit}" in
  submit)
    array_job=$(sbatch --parsable --array="0-$((shards - 1))" \
      --export=ALL,CAPSIM_SLURM_MODE=shard "$0" "$scenario" "$shards" "$draws" "$outdir" "$@")
    merge_job=$(sbatch --parsable --dependency="afterok:${array_job%%;*}" \
      --export=ALL,CAPSIM_SLURM_MODE=merge "$0" "$scenario" "$shards" "$draws" "$outdir" "$@")
    echo "submitted shards as job ${array_job%%;*}, merge as job ${merge_job%%;*}; results in $outdir/merged"
    ;;
  shard)
    i=${SLURM_ARRAY_TASK_ID:?not inside a Slurm array task}
    "$capsim" --quiet run "$scenario" --draws "$draws" --shard "$i/$shards" \
      --threads "${SLURM_CPUS_PER_TASK:-0}" --out "$outdir/shard-$i" "$@"
    ;;
  merge)
    parts=()
    for ((i = 0; i < shards; i++)); do parts+=("$outdir/shard-$i"); done
    "$capsim" merge "${parts[@]}" --out "$outdir/merged"
    ;;
  *)
    echo "unknown CAPSIM_SLURM_MODE=${CAPSIM_SLURM_MODE}" >&2
    exit 2
    ;;
esac
