#!/usr/bin/env bash
# A fresh process's first requests against its fiftieth, on the published program as the image runs
# it (self-contained linux-x64): as shipped (ReadyToRun, warm-up at load), without the warm-up
# (WORKER_WARMUP=off), and without either (JIT only), side by side:
#   Benchmarks/first-request.sh [rounds]
# Body: 60,000 rows x 4 columns of pandas float64 text (4.5 MB) to the linear model, answered as CSV.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=artifacts/first-request
mkdir -p "$out"
dotnet publish Worker/Worker.csproj -c Release -r linux-x64 --self-contained true -o "$out/r2r" --nologo -v quiet >/dev/null
dotnet publish Worker/Worker.csproj -c Release -r linux-x64 --self-contained true -p:PublishReadyToRun=false -o "$out/jit" --nologo -v quiet >/dev/null
dotnet publish Benchmarks/Benchmarks.csproj -c Release -o "$out/bench" --nologo -v quiet >/dev/null
/usr/bin/python3 - "$out/body.csv" <<'PY'
import random, sys
random.seed(7)
with open(sys.argv[1], "w") as f:
    for _ in range(60000):
        f.write(",".join(repr((random.random() - 0.5) * 10 ** random.randint(-3, 3)) for _ in range(4)) + "\n")
PY
run() { echo "== $1"; WORKER_WARMUP=$3 "$out/bench/Benchmarks" first-requests --app "$out/$2/Worker" --model formats/models/linear --body "$out/body.csv" --rounds "$rounds"; }
run "ReadyToRun + warm-up (as shipped)" r2r on
[ -n "${ONLY_SHIPPED:-}" ] || run "ReadyToRun, no warm-up" r2r off
[ -n "${ONLY_SHIPPED:-}" ] || run "JIT only, no warm-up" jit off
