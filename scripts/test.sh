#!/usr/bin/env bash
# Builds the solution and runs every test project; ends with one line "N passed, N failed".
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
"$ROOT/scripts/setup.sh" --check >/dev/null 2>&1 || "$ROOT/scripts/setup.sh" || exit 1

RESULTS="$ROOT/artifacts/test-results"
rm -rf "$RESULTS"; mkdir -p "$RESULTS"
dotnet build RoboFactory.sln -c Release -nologo -v q -clp:ErrorsOnly || { echo "0 passed, 1 failed"; exit 1; }

status=0
declare -A exit_code
for proj in tests/*/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  echo "=== $name"
  dotnet test "$proj" -c Release --no-build -nologo \
      --logger "trx;LogFileName=$name.trx" --results-directory "$RESULTS" \
      --logger "console;verbosity=normal" "$@"
  exit_code[$name]=$?
  [ "${exit_code[$name]}" -ne 0 ] && status=1
done

passed=0; failed=0
for trx in "$RESULTS"/*.trx; do
  [ -f "$trx" ] || continue
  c=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(echo "$c" | sed -n 's/.* passed="\([0-9]*\)".*/\1/p'); f=$(echo "$c" | sed -n 's/.* failed="\([0-9]*\)".*/\1/p')
  t=$(echo "$c" | sed -n 's/.* total="\([0-9]*\)".*/\1/p')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ "${t:-0}" -eq 0 ]; then echo "test: $(basename "$trx") ran no test" >&2; failed=$((failed + 1)); fi
  # A test host that crashes (a native fault, a stack overflow) makes dotnet test fail while its trx lists no failed
  # test: count it as one failure so that the last line never reads "0 failed" for a failed run.
  name=$(basename "$trx" .trx); rc=${exit_code[$name]:-0}
  if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
    echo "test: $name exited $rc without a failed test (the test host crashed or aborted; see its output above)"
    failed=$((failed + 1))
  fi
done
n_proj=$(ls tests/*/*.Tests.csproj | wc -l); n_trx=$(ls "$RESULTS"/*.trx 2>/dev/null | wc -l)
if [ "$n_trx" -lt "$n_proj" ]; then
  echo "test: only $n_trx of $n_proj test projects produced results" >&2
  failed=$((failed + n_proj - n_trx)); status=1
fi
[ $failed -gt 0 ] && status=1
echo "$passed passed, $failed failed"
exit $status
