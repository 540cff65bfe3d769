#!/usr/bin/env bash
# Before and after in one run: builds the benchmarks of two git revisions side by side, then runs the
# same BenchmarkDotNet filter on each in turn (A B A B ..., in process), so the machine's drift falls
# on both alike. Prints each benchmark's median per round and the ratio after/before.
#   Benchmarks/ab-builds.sh BEFORE-REV AFTER-REV ROUNDS FILTER [FILTER ...]
# e.g. Benchmarks/ab-builds.sh 44c3e97 HEAD 3 '*EndToEndBenchmarks.BareOrt' '*EndToEndBenchmarks.EndToEndCsv'
# Needs the MLP (artifacts/models/mlp, from formats/models/make_models.py --mlp); a revision's own
# build needs whatever that revision needed (before 6a0e58b: npm, for its ONNX Runtime fetch).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 2,8p "$0"; exit 2; }
before=$(git rev-parse --short "$1"); after=$(git rev-parse --short "$2"); rounds=$3; shift 3
[ -f artifacts/models/mlp/model.onnx ] || /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp
# Outside the repository: BenchmarkDotNet finds its project by name under the working folder.
work=${AB_DIR:-${TMPDIR:-/tmp}/worker-ab}
results=$work/results-$(date -u +%Y%m%dT%H%M%S)
for rev in "$before" "$after"; do
  dir=$work/$rev
  [ -d "$dir" ] || git worktree add --detach "$dir" "$rev" >/dev/null
  mkdir -p "$dir/artifacts/models" && cp -r artifacts/models/mlp "$dir/artifacts/models/"
  dotnet build -c Release "$dir/Benchmarks" -nologo -v q >/dev/null
done
for round in $(seq "$rounds"); do
  for rev in "$before" "$after"; do
    echo "== round $round: $rev ($(date -u +%H:%M:%S))"
    (cd "$work/$rev" && dotnet Benchmarks/bin/Release/net10.0/Benchmarks.dll --filter "$@" --inProcess \
      --warmupCount 3 --iterationCount 10 --exporters json --artifacts "$results/$round-$rev") | grep -E '^\|' || true
  done
done
/usr/bin/python3 - "$results" "$before" "$after" "$rounds" <<'PY'
import glob, json, os, statistics, sys
results, before, after, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
medians = {}
for round in range(1, rounds + 1):
    for rev in (before, after):
        for path in glob.glob(os.path.join(results, f"{round}-{rev}", "results", "*.json")):
            for b in json.load(open(path))["Benchmarks"]:
                key = b["Method"] + (f"({b['Parameters']})" if b.get("Parameters") else "")
                medians.setdefault(key, {}).setdefault(rev, []).append(b["Statistics"]["Median"] / 1e6)
print(f"\n| benchmark | {before} medians (ms) | {after} medians (ms) | {after} / {before} |")
print("| --- | --- | --- | ---: |")
for key, revs in medians.items():
    a, b = revs.get(before, []), revs.get(after, [])
    ratio = f"{statistics.median(b) / statistics.median(a):.2f}" if a and b else "-"
    fmt = lambda xs: " / ".join(f"{x:.3f}" for x in xs) or "-"
    print(f"| {key} | {fmt(a)} | {fmt(b)} | {ratio} |")
PY
