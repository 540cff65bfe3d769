#!/usr/bin/env bash
# Small-request rate: the worker and a minimal Kestrel app answer GET /ping under wrk on loopback,
# on the same machine in the same run, in alternating rounds. Prints a Markdown table.
#   Benchmarks/http-ping.sh [seconds-per-round] [connections] [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-32}
rounds=${3:-3}
worker_port=18080
kestrel_port=18081

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }

out=artifacts/bench-http
dotnet publish Worker/Worker.csproj -c Release -o "$out/worker" --nologo -v quiet >/dev/null
dotnet publish Benchmarks/Benchmarks.csproj -c Release -o "$out/bench" --nologo -v quiet >/dev/null

"$out/worker/Worker" serve --port "$worker_port" --model-dir formats/models/linear >"$out/worker.log" 2>&1 &
worker_pid=$!
"$out/bench/Benchmarks" kestrel-ping --port "$kestrel_port" >"$out/kestrel.log" 2>&1 &
kestrel_pid=$!
trap 'kill $worker_pid $kestrel_pid 2>/dev/null || true' EXIT

for port in $worker_port $kestrel_port; do
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$port/ping" >/dev/null && break
    sleep 0.1
  done
done

run() { # name port -> "rps errors"
  local text rps errors
  text=$(wrk -t1 -c"$connections" -d"${seconds}s" "http://127.0.0.1:$2/ping")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$text")
  errors=$( (grep -oE '(Non-2xx or 3xx responses|Socket errors):.*' <<<"$text" || true) | tr '\n' ' ')
  echo "$1 $rps ${errors:-none}"
}

# Warm both (JIT, tiered compilation) before measuring.
wrk -t1 -c"$connections" -d3s "http://127.0.0.1:$worker_port/ping" >/dev/null
wrk -t1 -c"$connections" -d3s "http://127.0.0.1:$kestrel_port/ping" >/dev/null

results=()
for round in $(seq 1 "$rounds"); do
  results+=("$(run worker $worker_port)")
  results+=("$(run kestrel $kestrel_port)")
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
worker_median=$(printf '%s\n' "${results[@]}" | awk '$1=="worker" {print $2}' | median)
kestrel_median=$(printf '%s\n' "${results[@]}" | awk '$1=="kestrel" {print $2}' | median)

echo "| round | server | requests/s | errors |"
echo "| --- | --- | --- | --- |"
i=0
for line in "${results[@]}"; do
  read -r name rps errors <<<"$line"
  echo "| $((i / 2 + 1)) | $name | $rps | $errors |"
  i=$((i + 1))
done
echo
echo "median worker: $worker_median req/s, median Kestrel: $kestrel_median req/s, ratio worker/Kestrel: $(awk -v w="$worker_median" -v k="$kestrel_median" 'BEGIN {printf "%.2f", w / k}')"
echo "($(nproc) cores, wrk -t1 -c$connections -d${seconds}s, $rounds alternating rounds, $(date -u +%Y-%m-%d))"
# For run-all.sh's report: one "server requests/s errors" line per round.
if [ -n "${RESULTS_DIR:-}" ]; then printf '%s\n' "${results[@]}" >"$RESULTS_DIR/ping.txt"; fi
