#!/usr/bin/env bash
# What any HTTP server can answer here with issue 15's one-row clients, against a loop of bare
# batch-1 Runs: nginx answering `return 200` from memory (no body read into a program, no model) under
# the same wrk load as one-row-clients.sh (wrk -t1, 64 keep-alive connections, a one-row CSV POST), in
# alternating rounds with the bare loop. On a machine where wrk shares the cores, this bounds what the
# worker's one-row figure can reach. Prints a Markdown table and the medians.
#   Benchmarks/http-floor.sh [seconds-per-round] [connections] [rounds] [nginx-workers]
# Needs: apt-get install -y wrk nginx
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
connections=${2:-64}
rounds=${3:-3}
workers=${4:-auto}
port=18083

for tool in wrk nginx; do command -v "$tool" >/dev/null || { echo "$tool is missing: apt-get install -y wrk nginx" >&2; exit 1; }; done
[ -f artifacts/models/mlp/model.onnx ] || /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp

out=$(readlink -f artifacts)/bench-http-floor
mkdir -p "$out"
dotnet publish Benchmarks/Benchmarks.csproj -c Release -o "$out/bench" --nologo -v quiet >/dev/null

cat >"$out/nginx.conf" <<CONF
worker_processes $workers;
daemon off;
pid $out/nginx.pid;
error_log $out/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $out/body;
  server {
    listen $port;
    keepalive_requests 100000000;
    location / { return 200 "0.5\n"; }
  }
}
CONF

. Benchmarks/one-row-post.sh
write_one_row_post "$out/post.lua"

nginx -c "$out/nginx.conf" -p "$out" >"$out/nginx.log" 2>&1 &
nginx_pid=$!
trap 'kill $nginx_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ] && break
  sleep 0.1
done

wrk -t1 -c"$connections" -d2s -s "$out/post.lua" "http://127.0.0.1:$port/" >/dev/null

echo "| round | what | requests/s (rows/s) |"
echo "| --- | --- | ---: |"
served=()
bare=()
for round in $(seq 1 "$rounds"); do
  rps=$(wrk -t1 -c"$connections" -d"${seconds}s" -s "$out/post.lua" "http://127.0.0.1:$port/" | awk '/^Requests\/sec:/ {print $2}')
  served+=("$rps"); echo "| $round | nginx \`return 200\` ($workers workers), $connections one-row clients (wrk) | $rps |"
  kill -STOP $nginx_pid $(pgrep -P $nginx_pid) 2>/dev/null || true
  rps=$("$out/bench/Benchmarks" bare-loop --model artifacts/models/mlp/model.onnx --seconds "$seconds" | awk '{print $2}')
  kill -CONT $nginx_pid $(pgrep -P $nginx_pid) 2>/dev/null || true
  bare+=("$rps"); echo "| $round | bare ORT, a loop of one-row Runs | $rps |"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
s=$(printf '%s\n' "${served[@]}" | median)
l=$(printf '%s\n' "${bare[@]}" | median)
echo
awk -v s="$s" -v l="$l" 'BEGIN { printf "Medians: nginx %.0f requests/s, bare loop %.0f rows/s: **nginx ÷ bare batch-1 loop = %.2f** (issue 15 asks the worker for ≥ 2 with a model behind it).\n", s, l, s / l }'
