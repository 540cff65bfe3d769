#!/usr/bin/env bash
# Side by side, in one run, on this machine: the classic BYOC stack (nginx + gunicorn + Flask +
# pandas, Debian packages, Benchmarks/byoc/) against the worker, both driven by the same
# `Worker transform --endpoint` over the same CSV file with the same settings. Prints rows/s, MB/s
# and peak RSS (sum of the stack's processes, sampled every 0.2 s) for each, and the ratios.
#   apt-get install -y nginx gunicorn python3-flask python3-pandas
#   Benchmarks/byoc-vs-worker.sh [size-in-MB]
#   STYLE=pandas|numpy|short Benchmarks/byoc-vs-worker.sh [size-in-MB]   (number style, Benchmarks/make-csv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-50}
out=artifacts/bench-byoc
mkdir -p "$out"
input=$out/input-${mb}mb-${STYLE:-short}.csv
Benchmarks/make-csv.sh "$mb" "$input"
dotnet publish Worker/Worker.csproj -c Release -o "$out/worker" --nologo -v quiet >/dev/null
workers=$(nproc)

# Peak of the summed resident memory of a process tree, sampled until the file $1.stop appears.
sample_rss() {
  local root=$1 file=$2 peak=0
  while [ ! -f "$file.stop" ]; do
    local total=0
    for pid in $root $(pgrep -P "$root" 2>/dev/null) $(for c in $(pgrep -P "$root" 2>/dev/null); do pgrep -P "$c"; done); do
      local kb; kb=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0)
      total=$((total + ${kb:-0}))
    done
    [ "$total" -gt "$peak" ] && peak=$total
    sleep 0.2
  done
  echo "$peak" >"$file"
}

# Waits for the stack whose root process is $3 to answer on $2, then transforms the input through it
# while sampling its memory: $out/$1.log holds the summary, $out/$1.rss the peak KiB.
measure() { # name url root-pid
  for _ in $(seq 1 100); do curl -sf "$2/ping" >/dev/null && break; sleep 0.2; done
  rm -f "$out/$1.rss" "$out/$1.rss.stop" && rm -rf "$out/out-$1"
  sample_rss "$3" "$out/$1.rss" &
  local sampler=$!
  "$out/worker/Worker" transform --endpoint "$2" --input "$input" --output "$out/out-$1" \
    --content-type text/csv --max-concurrent-transforms "$workers" --max-payload-in-mb 6 --progress none | tee "$out/$1.log"
  touch "$out/$1.rss.stop"
  wait $sampler
}

# 1. The BYOC stack: gunicorn (one sync worker per core, as the examples size it) behind nginx.
nginx_dir=$(readlink -f "$out")/nginx
mkdir -p "$nginx_dir"
sed -e "s|NGINX_DIR|$nginx_dir|g" -e "s|PORT|18180|" Benchmarks/byoc/nginx.conf >"$nginx_dir/nginx.conf"
( cd Benchmarks/byoc && exec setsid bash -c "gunicorn --timeout 600 -k sync -b unix:$nginx_dir/gunicorn.sock -w $workers predictor:app & exec nginx -c $nginx_dir/nginx.conf -p $nginx_dir" ) >"$out/byoc-server.log" 2>&1 &
byoc=$!
trap 'kill -- -$byoc 2>/dev/null || true; kill $worker 2>/dev/null || true' EXIT
measure byoc http://127.0.0.1:18180 "$byoc"
kill -- -$byoc 2>/dev/null || true

# 2. The worker, as `serve` on its own port.
"$out/worker/Worker" serve --port 18181 --model-dir formats/models/linear >"$out/worker-server.log" 2>&1 &
worker=$!
measure worker http://127.0.0.1:18181 "$worker"
kill $worker

# The two must agree: same number of answers, same numbers to 4 significant digits on a sample.
lines_byoc=$(wc -l <"$out/out-byoc/$(basename "$input").out"); lines_worker=$(wc -l <"$out/out-worker/$(basename "$input").out")
[ "$lines_byoc" = "$lines_worker" ] || { echo "answers differ in count: $lines_byoc vs $lines_worker"; exit 1; }
paste -d, <(head -100000 "$out/out-byoc/$(basename "$input").out") <(head -100000 "$out/out-worker/$(basename "$input").out") | awk -F, '
  { for (i = 1; i <= 3; i++) { d = $i - $(i + 3); if (d < 0) d = -d; m = ($i < 0 ? -$i : $i); if (d > 1e-4 * (m > 1 ? m : 1)) { print "answer " NR " differs: " $0; exit 1 } } }'

rate() { sed -n 's/.*(\([0-9,]*\) records\/s, \([0-9.,]*\) MB\/s).*/\1 \2/p' "$out/$1.log" | tr -d ,; }
read -r byoc_rows byoc_mbs < <(rate byoc)
read -r worker_rows worker_mbs < <(rate worker)
byoc_rss=$(($(cat "$out/byoc.rss") / 1024)); worker_rss=$(($(cat "$out/worker.rss") / 1024))
echo
echo "| stack | rows/s | MB/s | peak RSS (MiB) |"
echo "| --- | ---: | ---: | ---: |"
echo "| nginx + gunicorn ($workers workers) + Flask + pandas | $byoc_rows | $byoc_mbs | $byoc_rss |"
echo "| worker | $worker_rows | $worker_mbs | $worker_rss |"
awk -v w="$worker_rows" -v b="$byoc_rows" -v wr="$worker_rss" -v br="$byoc_rss" \
  'BEGIN { printf "worker / BYOC: %.1fx rows/s, %.2fx peak RSS\n", w / b, wr / br }'
# For run-all.sh's report: "stack rows/s MB/s peak-RSS-MiB [gunicorn workers]".
if [ -n "${RESULTS_DIR:-}" ]; then
  printf 'byoc %s %s %s %s\nworker %s %s %s\n' "$byoc_rows" "$byoc_mbs" "$byoc_rss" "$workers" "$worker_rows" "$worker_mbs" "$worker_rss" >"$RESULTS_DIR/byoc.txt"
fi
