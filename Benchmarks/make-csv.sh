#!/usr/bin/env bash
# Writes a CSV of about SIZE MB (10^6 bytes) to FILE unless it is there: four numbers per row, the
# same rows every time (seed 7), in the number style STYLE names:
#   short   (default) users' feature files: 1 to 7 significant digits, some negative
#   pandas  to_csv of float64 columns: 17 significant digits (-8.2870168685913086)
#   numpy   float32 text: 9 significant digits, exponents for small values (1.52587891e-05)
#   Benchmarks/make-csv.sh SIZE FILE
set -euo pipefail
mb=$1
file=$2
[ -f "$file" ] && exit 0
mkdir -p "$(dirname "$file")"
awk -v target=$((mb * 1000 * 1000)) -v style="${STYLE:-short}" 'BEGIN { srand(7); size = 0;
    while (size < target) {
      a = rand() * 100 - 50; b = rand() * 1000; c = int(rand() * 100000); d = rand() / 3
      if (style == "pandas") line = sprintf("%.17g,%.17g,%.17g,%.17g", a, b, c + rand(), d * 1e-3)
      else if (style == "numpy") line = sprintf("%.9g,%.9g,%.9g,%.9g", a, b, c + rand(), d * 1e-4)
      else line = sprintf("%.4f,%.2f,%d,%.6g", a, b, c, d);
      print line; size += length(line) + 1 } }' >"$file.tmp"
mv "$file.tmp" "$file"
