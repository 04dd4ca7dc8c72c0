#!/usr/bin/env bash
# scripts/reliability/kill9.sh [--kills N] [--seed S] [--work DIR] COMMAND...
#   COMMAND: prepare | convert | train | eval | all
# For each command: one uninterrupted reference run, then trials in fresh folders where the same command is killed
# with SIGKILL (its whole process group) at seeded random moments and started again (prepare and train with --resume,
# convert with --overwrite, eval plainly) until it completes. Stops once N kills (default 20) have landed while the command was
# still running. Then the trial's output must equal the reference:
#   prepare  byte-identical zarr stores            convert  byte-identical RLDS folders
#   train    the same final weights and loss curve  eval     the same results.json (timings aside)
# Prints one line per kill and a summary per command; exits 1 if any trial differs or a restart fails.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
KILLS=20; SEED=1; WORK=""
while [ $# -gt 0 ]; do
  case $1 in
    --kills) KILLS=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--kills N] [--seed S] [--work DIR] prepare|convert|train|eval|all" >&2; exit 2; }
CMDS=("$@"); [ "${CMDS[0]}" = all ] && CMDS=(prepare convert train eval)
WORK=${WORK:-$(mktemp -d /tmp/robofactory-kill9-XXXX)}
mkdir -p "$WORK"
"$ROOT/robofactory" --help >/dev/null || exit 1   # build once, outside the timed runs
DLL="$ROOT/src/RoboFactory.Cli/bin/Release/net10.0/RoboFactory.Cli.dll"
export ROBOFACTORY_ROOT="$ROOT"
RANDOM=$SEED
TASK=LiftBarrier

rf() { dotnet "$DLL" "$@"; }
# tree_hash DIR: one hash over every file's relative path and content
tree_hash() { (cd "$1" && find . -type f | LC_ALL=C sort | xargs -d '\n' sha256sum | sha256sum | cut -c1-16); }

# The command line of each command for output folder $1, and whether it resumes.
cmdline() {
  local c=$1 out=$2 again=$3
  case $c in
    prepare) echo "prepare --task $TASK --num 4 --workers 2 --out $out $([ "$again" = 1 ] && echo --resume)" ;;
    convert) echo "convert --task $TASK --data $WORK/data --out $out $([ "$again" = 1 ] && echo --overwrite)" ;;
    train)   if [ "$again" = 1 ] && [ -e "$out/latest" ]; then r=--resume; else r=--overwrite; fi
             echo "train --task $TASK --data $WORK/rlds/lift_barrier_agent0/1.0.0 --max-steps 24 --save-every 4 --keep 0 --batch-size 4 --val-every 0 --no-plots --logger jsonl --log-every 1 --out $out $r" ;;
    eval)    echo "eval --policy expert --task $TASK --episodes 20 --workers 2 --out $out --run r" ;;
  esac
}

# What must be equal between a trial and the reference.
fingerprint() {
  local c=$1 out=$2
  case $c in
    prepare) for s in "$out"/zarr/*.zarr; do tree_hash "$s"; done | tr '\n' ' ' ;;   # the stores (the run report holds timings)
    convert) tree_hash "$out" ;;
    train)   echo "$(sha256sum "$out"/step_24/*.safetensors | cut -c1-16 | tr '\n' ' ')$(python3 -c '
import json,sys
last={}
for l in open(sys.argv[1]):
    r=json.loads(l)
    if "loss" in r: last[r["step"]]=r["loss"]
print(" curve", len(last), __import__("hashlib").sha256(json.dumps(sorted(last.items())).encode()).hexdigest()[:16])' "$out/metrics.jsonl")" ;;
    eval)    python3 -c '
import json,sys
d=json.load(open(sys.argv[1]))
def strip(x):
    if isinstance(x,dict): return {k:strip(v) for k,v in x.items() if not any(t in k for t in ("second","time","wall","date","per_s"))}
    if isinstance(x,list): return [strip(v) for v in x]
    return x
print(__import__("hashlib").sha256(json.dumps(strip(d),sort_keys=True).encode()).hexdigest()[:16])' "$(find "$out" -name results.json | head -1)" ;;
  esac
}

# Inputs the later commands need: a finished recording and its RLDS conversion.
ensure_inputs() {
  [ -d "$WORK/data/zarr" ] || rf prepare --task $TASK --num 4 --workers 2 --out "$WORK/data" >/dev/null || exit 1
  [ -d "$WORK/rlds" ] || rf convert --task $TASK --data "$WORK/data" --out "$WORK/rlds" >/dev/null || exit 1
}

status=0
for c in "${CMDS[@]}"; do
  ensure_inputs
  ref="$WORK/$c-ref"; rm -rf "$ref"
  t0=$(date +%s.%N)
  rf $(cmdline $c "$ref" 0) > "$WORK/$c-ref.log" 2>&1 || { echo "$c: reference run failed (see $WORK/$c-ref.log)"; exit 1; }
  secs=$(echo "$(date +%s.%N) - $t0" | bc)
  want=$(fingerprint $c "$ref")
  [ -n "${want// /}" ] || { echo "$c: no fingerprint from the reference output in $ref"; exit 1; }
  echo "$c: reference run ${secs%.*} s, fingerprint $want"
  landed=0; trials=0; starts=0
  while [ $landed -lt "$KILLS" ]; do
    trials=$((trials + 1)); out="$WORK/$c-trial$trials"; rm -rf "$out"; again=0
    while :; do
      # a moment in (0.3 s, reference time): early kills hit start-up and the first writes, late ones the commits
      ms=$(( 300 + (RANDOM * 32768 + RANDOM) % (${secs%.*} * 1000 + 1) ))
      [ "$ms" -lt 300 ] && ms=300
      log="$out.log"; starts=$((starts + 1))
      setsid dotnet "$DLL" $(cmdline $c "$out" $again) >> "$log" 2>&1 &
      pid=$!
      sleep "$(echo "scale=3; $ms / 1000" | bc)"
      if kill -0 $pid 2>/dev/null && [ $landed -lt "$KILLS" ]; then
        kill -9 -- -$pid 2>/dev/null; wait $pid 2>/dev/null
        landed=$((landed + 1)); again=1
        echo "  kill $landed: trial $trials at ${ms} ms"
        # a killed eval leaves either no results.json or a complete one (written to a temporary name, then renamed)
        if [ "$c" = eval ]; then
          for r in $(find "$out" -name results.json 2>/dev/null); do
            python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$r" 2>/dev/null \
              || { echo "  kill $landed left a half-written $r"; status=1; }
          done
        fi
        continue
      fi
      wait $pid; rc=$?
      if [ $rc -ne 0 ]; then echo "  trial $trials: restart exited $rc (see $log)"; status=1; break; fi
      got=$(fingerprint $c "$out")
      if [ "$got" = "$want" ]; then echo "  trial $trials: complete, equal to the reference"
      else echo "  trial $trials: DIFFERS ($got vs $want)"; status=1; fi
      break
    done
  done
  echo "$c: $landed kills in $trials trials ($starts starts)"
done
echo "work folder: $WORK"
exit $status
