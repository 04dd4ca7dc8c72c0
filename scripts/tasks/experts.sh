#!/usr/bin/env bash
# scripts/tasks/experts.sh [--episodes N] [--out DIR] [TASK...]
# Measures every task's scripted expert on seeds 0..N-1 (default 50) with `eval --policy expert --workers 2` and
# prints one Markdown row per task: successes, mean episode length, the episodes' summed wall time. Results stay in DIR (default
# /tmp/robofactory-experts/expert/<Task>-rf/seeds0-N/results.json); a task whose results.json exists is not re-run,
# so an interrupted measurement continues where it stopped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
N=50; OUT=/tmp/robofactory-experts
while [ $# -gt 0 ]; do
  case $1 in
    --episodes) N=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
TASKS=("$@")
[ ${#TASKS[@]} -gt 0 ] || TASKS=(LiftBarrier PickMeat StackCube StrikeCube TwoRobotsStackCube PassShoe PlaceFood
  ThreeRobotsStackCube CameraAlignment TakePhoto LongPipelineDelivery)
echo "| task | expert success (seeds 0–$((N - 1))) | mean length (steps) | episodes' wall time |"
echo "|---|---|---|---|"
for t in "${TASKS[@]}"; do
  res="$OUT/expert/$t-rf/seeds0-$N/results.json"
  if [ ! -f "$res" ]; then
    "$ROOT/robofactory" eval --policy expert --task "$t" --episodes "$N" --seed-start 0 --workers 2 \
      --out "$OUT" --run "seeds0-$N" > "$OUT.$t.log" 2>&1 || { echo "| $t | eval failed: see $OUT.$t.log | | |"; continue; }
  fi
  python3 - "$res" "$t" <<'PY'
import json, sys
d = json.load(open(sys.argv[1])); eps = d["episodes"]
s = d["summary"]; wall = sum(e["wall_time_s"] for e in eps)
print(f"| {sys.argv[2]} | {s['successes']}/{s['episodes']} | {s['mean_steps']:.1f} | {wall:.0f} s |")
PY
done
