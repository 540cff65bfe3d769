#!/usr/bin/env bash
# Writes a CSV of about SIZE MB (10^6 bytes) to FILE unless it is there: four numbers per row, like
# users' feature files (1 to 7 significant digits, some negative), the same rows every time (seed 7).
#   Benchmarks/make-csv.sh SIZE FILE
set -euo pipefail
mb=$1
file=$2
[ -f "$file" ] && exit 0
mkdir -p "$(dirname "$file")"
awk -v target=$((mb * 1000 * 1000)) 'BEGIN { srand(7); size = 0;
    while (size < target) {
      line = sprintf("%.4f,%.2f,%d,%.6g", rand() * 100 - 50, rand() * 1000, int(rand() * 100000), rand() / 3);
      print line; size += length(line) + 1 } }' >"$file.tmp"
mv "$file.tmp" "$file"
