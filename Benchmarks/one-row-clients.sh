#!/usr/bin/env bash
# One-row clients against a loop of bare batch-1 Runs (issue 15): the published worker serves the MLP
# under SINGLE_RECORD and wrk sends one-row CSV requests from 64 keep-alive connections; in
# alternating rounds, a loop of one-row bare ORT Runs on the same model (Benchmarks bare-loop), and
# wrk on GET /ping (the server's small-request rate with these connections, which touches no model).
# wrk and the worker share the machine's cores, as the bare loop does not. Prints a Markdown table.
#   Benchmarks/one-row-clients.sh [seconds-per-round] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
rounds=${3:-3}
port=18082

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -f artifacts/models/mlp/model.onnx ] || /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp

out=artifacts/bench-one-row
mkdir -p "$out"
dotnet publish Worker/Worker.csproj -c Release -r linux-x64 --self-contained -o "$out/worker" --nologo -v quiet >/dev/null
dotnet publish Benchmarks/Benchmarks.csproj -c Release -o "$out/bench" --nologo -v quiet >/dev/null

. Benchmarks/one-row-post.sh
write_one_row_post "$out/post.lua"

SAGEMAKER_BATCH_STRATEGY=SINGLE_RECORD SAGEMAKER_BIND_TO_PORT=$port SM_MODEL_DIR=artifacts/models/mlp \
  "$out/worker/Worker" serve >"$out/worker.log" 2>&1 &
worker_pid=$!
trap 'kill $worker_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/ping")" = 200 ] && break
  sleep 0.1
done

wrk_rate() { # extra wrk arguments -> "rps errors"
  local text rps errors
  text=$(wrk -t1 -c"$connections" -d"${seconds}s" "$@")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$text")
  errors=$( (grep -oE '(Non-2xx or 3xx responses|Socket errors):.*' <<<"$text" || true) | tr '\n' ' ')
  echo "$rps ${errors:-none}"
}

# Warm the worker's request path and the wrk connections.
wrk -t1 -c"$connections" -d3s -s "$out/post.lua" "http://127.0.0.1:$port/invocations" >/dev/null

echo "| round | what | rows/s (requests/s) | errors |"
echo "| --- | --- | ---: | --- |"
batched=()
bare=()
ping=()
for round in $(seq 1 "$rounds"); do
  read -r rps errors <<<"$(wrk_rate -s "$out/post.lua" "http://127.0.0.1:$port/invocations")"
  batched+=("$rps"); echo "| $round | worker, $connections one-row clients (wrk) | $rps | $errors |"
  kill -STOP $worker_pid
  rps=$("$out/bench/Benchmarks" bare-loop --model artifacts/models/mlp/model.onnx --seconds "$seconds" | awk '{print $2}')
  kill -CONT $worker_pid
  bare+=("$rps"); echo "| $round | bare ORT, a loop of one-row Runs | $rps | none |"
  read -r rps errors <<<"$(wrk_rate "http://127.0.0.1:$port/ping")"
  ping+=("$rps"); echo "| $round | worker, GET /ping, same connections (wrk) | $rps | $errors |"
done

if [ -n "${RESULTS_DIR:-}" ]; then
  { for r in "${batched[@]}"; do echo "worker $r"; done
    for r in "${bare[@]}"; do echo "bare $r"; done
    for r in "${ping[@]}"; do echo "ping $r"; done; } >"$RESULTS_DIR/one-row.txt"
fi

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
b=$(printf '%s\n' "${batched[@]}" | median)
l=$(printf '%s\n' "${bare[@]}" | median)
p=$(printf '%s\n' "${ping[@]}" | median)
echo
awk -v b="$b" -v l="$l" -v p="$p" 'BEGIN { printf "Medians: worker %.0f rows/s, bare loop %.0f rows/s, /ping %.0f requests/s: **worker ÷ bare batch-1 loop = %.2f** (goal ≥ 2); /ping ÷ bare loop = %.2f.\n", b, l, p, b / l, p / l }'
