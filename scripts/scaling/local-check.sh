#!/usr/bin/env bash
# Runs the Slurm and Kubernetes examples of docs/scaling.md on this machine, one shard after the other, with the
# environment variables those schedulers set, and checks that the merged outputs equal an unsharded run.
# Usage: bash scripts/scaling/local-check.sh [WORK_DIR]     (about 2 minutes on 2 cores)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
W="${1:-$(mktemp -d /tmp/rf-scaling.XXXXXX)}"
RF=./robofactory
N=4; SHARDS=2; EP=4
echo "== prepare: Slurm array of $SHARDS tasks (SLURM_ARRAY_TASK_ID=1..$SHARDS, as with sbatch --array=1-$SHARDS)"
for id in $(seq 1 $SHARDS); do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_COUNT=$SHARDS \
    $RF prepare --task LiftBarrier --num $N --workers 1 --shard auto --out "$W/sharded" --resume
done
$RF prepare merge --task LiftBarrier --out "$W/sharded"
$RF prepare --task LiftBarrier --num $N --workers 1 --out "$W/whole"
for a in 0 1; do
  s="LiftBarrier_Agent${a}_${N}.zarr"
  if ! diff -r "$W/whole/zarr/$s" "$W/sharded/zarr/$s" >/dev/null; then echo "FAIL: merged $s differs from the unsharded store"; exit 1; fi
done
echo "ok: the merged stores are byte-identical to the unsharded ones"

echo "== eval: Kubernetes Indexed Job of $SHARDS pods (JOB_COMPLETION_INDEX=0..$((SHARDS-1)), --shards $SHARDS)"
for i in $(seq 0 $((SHARDS-1))); do
  JOB_COMPLETION_INDEX=$i $RF eval --policy expert --task LiftBarrier-rf --episodes $EP --seed-start 1000 --max-steps 40 \
    --shard auto --shards $SHARDS --run heldout --out "$W/eval"
done
$RF eval merge "$W/eval/expert/LiftBarrier-rf/heldout"
echo "== eval: Slurm array of $SHARDS tasks (SLURM_ARRAY_TASK_ID=0..$((SHARDS-1)), as with sbatch --array=0-$((SHARDS-1)))"
for id in $(seq 0 $((SHARDS-1))); do
  SLURM_ARRAY_TASK_ID=$id SLURM_ARRAY_TASK_MIN=0 SLURM_ARRAY_TASK_COUNT=$SHARDS \
    $RF eval --policy expert --task LiftBarrier-rf --episodes $EP --seed-start 1000 --max-steps 40 --shard auto --run slurm --out "$W/eval"
done
$RF eval merge "$W/eval/expert/LiftBarrier-rf/slurm"
$RF eval --policy expert --task LiftBarrier-rf --episodes $EP --seed-start 1000 --max-steps 40 --run whole --out "$W/eval"
strip() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["run"]=None
for e in d["episodes"]: e.pop("wall_time_s"); e.pop("policy_seconds")
print(json.dumps(d, sort_keys=True))' "$1"; }
for run in heldout slurm; do
  if [ "$(strip "$W/eval/expert/LiftBarrier-rf/$run/results.json")" != "$(strip "$W/eval/expert/LiftBarrier-rf/whole/results.json")" ]; then
    echo "FAIL: merged results.json of the $run shards differs from the unsharded one"; exit 1
  fi
done
echo "ok: the merged results.json equals the unsharded one (timings aside)"
echo "scaling examples: all checks passed ($W)"
