#!/usr/bin/env bash
# One warm request, side by side: the same CSV body (60,000 rows x 4 columns in a number style, as
# Benchmarks/make-csv.sh writes it) POSTed to the BYOC stack (nginx + gunicorn + Flask + pandas,
# Benchmarks/byoc/) and to the worker, both on the linear model, answers as CSV; curl's total time
# for each of ROUNDS requests after 3 warm-ups, median printed, then the ratio.
#   apt-get install -y nginx gunicorn python3-flask python3-pandas curl
#   STYLE=pandas|numpy|short Benchmarks/byoc-single-request.sh [rounds]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
style=${STYLE:-pandas}
out=artifacts/bench-byoc-single
mkdir -p "$out"
body=$out/body-$style.csv
if [ ! -f "$body" ]; then
  STYLE=$style Benchmarks/make-csv.sh 10 "$out/big-$style.csv"
  head -n 60000 "$out/big-$style.csv" >"$body"
fi
dotnet publish Worker/Worker.csproj -c Release -o "$out/worker" --nologo -v quiet >/dev/null

median_ms() { # url
  for _ in $(seq 1 100); do curl -sf "$1/ping" >/dev/null && break; sleep 0.2; done
  for _ in 1 2 3; do curl -s -o /dev/null -H 'Content-Type: text/csv' -H 'Accept: text/csv' --data-binary @"$body" "$1/invocations"; done
  for _ in $(seq 1 "$rounds"); do
    curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: text/csv' -H 'Accept: text/csv' --data-binary @"$body" "$1/invocations"
  done | sort -n | awk '{ t[NR] = $1 } END { printf "%.1f\n", t[int((NR + 1) / 2)] * 1000 }'
}

nginx_dir=$(readlink -f "$out")/nginx
mkdir -p "$nginx_dir"
sed -e "s|NGINX_DIR|$nginx_dir|g" -e "s|PORT|18182|" Benchmarks/byoc/nginx.conf >"$nginx_dir/nginx.conf"
( cd Benchmarks/byoc && exec setsid bash -c "gunicorn --timeout 600 -k sync -b unix:$nginx_dir/gunicorn.sock -w $(nproc) predictor:app & exec nginx -c $nginx_dir/nginx.conf -p $nginx_dir" ) >"$out/byoc-server.log" 2>&1 &
byoc=$!
trap 'kill -- -$byoc 2>/dev/null || true; kill $worker 2>/dev/null || true' EXIT
byoc_ms=$(median_ms http://127.0.0.1:18182)
kill -- -$byoc 2>/dev/null || true

SAGEMAKER_MAX_PAYLOAD_IN_MB=0 "$out/worker/Worker" serve --port 18183 --model-dir formats/models/linear >"$out/worker-server.log" 2>&1 &
worker=$!
worker_ms=$(median_ms http://127.0.0.1:18183)
kill $worker

bytes=$(stat -c %s "$body")
echo "body: $style, $(wc -l <"$body") rows, $bytes bytes"
echo "BYOC stack: $byoc_ms ms (median of $rounds), worker: $worker_ms ms"
awk -v b="$byoc_ms" -v w="$worker_ms" 'BEGIN { printf "worker / BYOC: %.1fx faster\n", b / w }'
if [ -n "${RESULTS_DIR:-}" ]; then echo "$style $bytes $byoc_ms $worker_ms" >>"$RESULTS_DIR/byoc-single.txt"; fi
