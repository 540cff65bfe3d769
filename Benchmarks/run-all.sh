#!/usr/bin/env bash
# The whole benchmark suite, in one run on this machine, then BENCHMARKS.md's generated tables
# rewritten from its results (`Benchmarks report`). The prose around the tables is hand-written.
#   Benchmarks/run-all.sh           the sizes BENCHMARKS.md quotes (about 40 minutes on 2 cores)
#   QUICK=1 Benchmarks/run-all.sh   small sizes and short BenchmarkDotNet jobs: checks the pipeline,
#                                   its figures are not for quoting
# Needs: apt-get install -y wrk nginx gunicorn python3-flask python3-pandas python3-onnx time curl
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for tool in wrk nginx gunicorn curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -x /usr/bin/time ] || missing+=(time)
/usr/bin/python3 -c 'import onnx, flask, pandas' 2>/dev/null || missing+=("python3-onnx/flask/pandas")
if [ ${#missing[@]} -gt 0 ]; then
  echo "missing: ${missing[*]}" >&2
  echo "apt-get update && apt-get install -y wrk nginx gunicorn python3-flask python3-pandas python3-onnx time curl" >&2
  exit 1
fi

results=artifacts/bench-results
rm -rf "$results"
mkdir -p "$results"
RESULTS_DIR=$(readlink -f "$results")
export RESULTS_DIR
[ -f artifacts/models/mlp/model.onnx ] || /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp

if [ -n "${QUICK:-}" ]; then
  bdn=(--warmupCount 1 --iterationCount 3); ping=(2 32 1); soak=2000; transform=50; byoc=20; single=3; first=2; onerow=(2 64 1); kind="QUICK=1, figures not for quoting"
else
  bdn=(--warmupCount 3 --iterationCount 10); ping=(10 32 3); soak=30000; transform=1024; byoc=200; single=9; first=5; onerow=(10 64 3); kind="full sizes"
fi

step() { echo; echo "=== $* ($(date -u +%H:%M:%S))"; }

step "BenchmarkDotNet: every benchmark class"
dotnet run -c Release --project Benchmarks -- --filter '*' "${bdn[@]}" --exporters json --artifacts "$RESULTS_DIR/bdn"

step "worker vs Kestrel, GET /ping under wrk"
Benchmarks/http-ping.sh "${ping[@]}"

step "RSS over $soak requests of varied batch sizes"
Benchmarks/rss-soak.sh "$soak"

step "a ${transform} MB CSV batch transform"
Benchmarks/transform-1gb.sh "$transform"

step "worker vs BYOC stack on a ${byoc} MB CSV transform"
Benchmarks/byoc-vs-worker.sh "$byoc"

step "one warm request of 60,000 rows to the BYOC stack and the worker, per number style"
for style in pandas numpy short; do STYLE=$style Benchmarks/byoc-single-request.sh "$single"; done

step "a fresh process's first requests against its fiftieth"
ONLY_SHIPPED=1 Benchmarks/first-request.sh "$first" | tee "$RESULTS_DIR/first-request.txt"

step "64 one-row clients against a loop of bare batch-1 Runs (wrk)"
Benchmarks/one-row-clients.sh "${onerow[@]}"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
printf 'Last run of `Benchmarks/run-all.sh` (%s): %s, %s cores (%s), %s GiB, .NET SDK %s.\n' \
  "$kind" "$(date -u +%Y-%m-%d)" "$(nproc)" "$cpu" "$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$(dotnet --version)" >"$RESULTS_DIR/machine.txt"

step "rewriting BENCHMARKS.md"
dotnet run -c Release --project Benchmarks -- report "$RESULTS_DIR" BENCHMARKS.md
