#!/usr/bin/env bash
# fuzz/run.sh TARGET SECONDS — runs one fuzz target (fuzz/RoboFactory.Fuzz, `list` shows them) under Debian's afl++
# for SECONDS, starting from the committed seeds in fuzz/corpus/TARGET. Prints executions, paths, crashes and hangs
# and appends them to artifacts/fuzz/summary.tsv. Findings stay in artifacts/fuzz/out/TARGET/default/{crashes,hangs};
# replay one without afl, on the uninstrumented build (instrumented code needs afl's coverage map):
#   dotnet build fuzz/RoboFactory.Fuzz -c Release && dotnet fuzz/RoboFactory.Fuzz/bin/Release/net10.0/RoboFactory.Fuzz.dll replay TARGET FILE
#   fuzz/run.sh all SECONDS   runs every target in turn, SECONDS each.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ $# -ne 2 ] || ! [[ "$2" =~ ^[0-9]+$ ]]; then
  echo "usage: fuzz/run.sh TARGET|all SECONDS" >&2; exit 2
fi
TARGET=$1; SECS=$2
WORK="$ROOT/artifacts/fuzz"; BIN="$WORK/bin"; TOOLS="$WORK/tools"
mkdir -p "$WORK"

# --- tools: afl++ from Debian, the SharpFuzz instrumenter as a local dotnet tool
if ! command -v afl-fuzz >/dev/null; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  # a fresh machine may have no package lists yet
  $SUDO apt-get install -y -q afl++ >&2 || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q afl++ >&2; }
fi
if [ ! -x "$TOOLS/sharpfuzz" ]; then
  dotnet tool install SharpFuzz.CommandLine --version 2.3.0 --tool-path "$TOOLS" >&2
fi

# --- build and instrument our assemblies (and YamlDotNet, whose parser the task loader drives) when sources changed
STAMP="$BIN/.instrumented"
if [ ! -f "$STAMP" ] || [ -n "$(find src fuzz -name '*.cs' -newer "$STAMP" -print -quit)" ]; then
  rm -rf "$BIN"
  dotnet publish fuzz/RoboFactory.Fuzz/RoboFactory.Fuzz.csproj -c Release -o "$BIN" -nologo -v q >&2
  for dll in RoboFactory.Core RoboFactory.Data RoboFactory.Sim RoboFactory.Vla YamlDotNet; do
    "$TOOLS/sharpfuzz" "$BIN/$dll.dll" >&2
  done
  touch "$STAMP"
fi

run_one() {
  local target=$1 out="$WORK/out/$1"
  [ -d "fuzz/corpus/$target" ] || { echo "no seeds in fuzz/corpus/$target" >&2; return 2; }
  rm -rf "$out"; mkdir -p "$out"
  # A 512 MB GC heap: an allocation sized by an unchecked length fails (OutOfMemoryException, a crash) instead of
  # passing unnoticed. -t: a hang is an input that takes over 5 s.
  DOTNET_GCHeapHardLimit=0x20000000 AFL_SKIP_BIN_CHECK=1 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 \
  AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
    afl-fuzz -V "$SECS" -t 5000 -m none -i "fuzz/corpus/$target" -o "$out" \
      -- dotnet "$BIN/RoboFactory.Fuzz.dll" run "$target" > "$out/afl.log" 2>&1 || {
      echo "afl-fuzz failed for $target; last lines of $out/afl.log:" >&2; tail -20 "$out/afl.log" >&2; return 1; }
  local stats="$out/default/fuzzer_stats"
  stat() { sed -n "s/^$1 *: *//p" "$stats"; }
  local crashes hangs
  crashes=$(stat saved_crashes); hangs=$(stat saved_hangs)
  [ -n "$crashes" ] || crashes=$(stat unique_crashes)
  [ -n "$hangs" ] || hangs=$(stat unique_hangs)
  printf '%s\t%s s\t%s execs\t%s execs/s\t%s paths\t%s crashes\t%s hangs\t%s\n' \
    "$target" "$(stat run_time)" "$(stat execs_done)" "$(stat execs_per_sec)" "$(stat corpus_count)" \
    "$crashes" "$hangs" "$(date -u +%F)" | tee -a "$WORK/summary.tsv"
}

if [ "$TARGET" = all ]; then
  status=0
  for t in $(dotnet "$BIN/RoboFactory.Fuzz.dll" list | awk '{print $1}'); do run_one "$t" || status=1; done
  exit $status
fi
run_one "$TARGET"
