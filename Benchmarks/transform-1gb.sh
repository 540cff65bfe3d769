#!/usr/bin/env bash
# A 1 GB CSV batch transform on this machine: `Worker transform` with its own in-process server,
# the linear model (4 features -> 3 outputs), SageMaker's settings left to /execution-parameters.
# Prints records/s and MB/s (the job's own summary) and the peak RSS of the whole process.
#   Benchmarks/transform-1gb.sh [size-in-MB] [extra transform options...]
#   STYLE=pandas|numpy|short Benchmarks/transform-1gb.sh ...   (number style, Benchmarks/make-csv.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-1024}
shift || true
out=artifacts/bench-transform
input=$out/input-${mb}mb-${STYLE:-short}.csv
mkdir -p "$out"
Benchmarks/make-csv.sh "$mb" "$input"
dotnet publish Worker/Worker.csproj -c Release -o "$out/worker" --nologo -v quiet >/dev/null
rm -rf "$out/output"
ls -l "$input"
/usr/bin/time -f 'peak RSS %M KiB, wall %e s, user %U s, system %S s' \
  "$out/worker/Worker" transform --input "$input" --output "$out/output" --model-dir formats/models/linear --progress log "$@" \
  2>&1 | tee "${RESULTS_DIR:-$out}/transform.txt"
ls -l "$out/output"
