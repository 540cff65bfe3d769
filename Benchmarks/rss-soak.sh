#!/usr/bin/env bash
# Native memory under varied batch shapes: 10^4 CSV requests of 1 to 4096 rows against the MLP,
# resident memory of the worker process sampled every 1000 requests.
#   Benchmarks/rss-soak.sh [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-10000}
port=18090
[ -f artifacts/models/mlp/model.onnx ] || /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp
out=artifacts/bench-soak
dotnet publish Worker/Worker.csproj -c Release -o "$out/worker" --nologo -v quiet >/dev/null
dotnet publish Benchmarks/Benchmarks.csproj -c Release -o "$out/bench" --nologo -v quiet >/dev/null
SAGEMAKER_MAX_PAYLOAD_IN_MB=0 "$out/worker/Worker" serve --port "$port" --model-dir artifacts/models/mlp >"$out/worker.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/ping" >/dev/null && break; sleep 0.1; done # up to 60 s: the warm-up runs first
"$out/bench/Benchmarks" soak --port "$port" --pid "$pid" --requests "$requests" | tee "${RESULTS_DIR:-$out}/soak.txt"
