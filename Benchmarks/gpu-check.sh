#!/usr/bin/env bash
# One command to check the CUDA path on a machine with an NVIDIA GPU and CUDA 13 + cuDNN 9 libraries:
#   Benchmarks/gpu-check.sh            builds, runs the tests that need CUDA (they must run, not skip),
#                                      then the MLP end to end on the GPU against bare Run there
#   DEVICE=tensorrt Benchmarks/gpu-check.sh   the same through TensorRT (needs libnvinfer.so.10)
#   DEVICE=cpu Benchmarks/gpu-check.sh        checks the check on any machine (skips the CUDA tests)
# Needs the .NET SDK 10 and a built MLP (artifacts/models/mlp/model.onnx, from
# `/usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp`).
set -euo pipefail
cd "$(dirname "$0")/.."
device=${DEVICE:-cuda}

echo "== machine"
if [ "$device" != cpu ]; then
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
    || { ls /dev/nvidia[0-9]* >/dev/null 2>&1 || { echo "no NVIDIA GPU here (/dev/nvidia0 missing)" >&2; exit 1; }; }
  # The CUDA provider's needs (readelf -d libonnxruntime_providers_cuda.so, and cuDNN 9 it opens at run time).
  missing=()
  for lib in libcudart.so.13 libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libcudnn.so.9; do
    ldconfig -p | grep -q "$lib" || [ -n "$(find ${LD_LIBRARY_PATH//:/ } -maxdepth 1 -name "$lib*" 2>/dev/null | head -1)" ] || missing+=("$lib")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing CUDA libraries: ${missing[*]} (the image's base, nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04, has them)" >&2
    exit 1
  fi
fi
[ -f artifacts/models/mlp/model.onnx ] || /usr/bin/python3 formats/models/make_models.py --mlp artifacts/models/mlp

echo "== tests that need CUDA"
if [ "$device" != cpu ]; then
  log=$(mktemp)
  dotnet test Worker.sln --filter 'FullyQualifiedName~Cuda' 2>&1 | tee "$log"
  if grep -qE 'Skipped: +[1-9]' "$log"; then
    echo "CUDA tests were skipped: this machine's CUDA was not usable by the tests" >&2
    exit 1
  fi
else
  echo "(skipped: DEVICE=cpu)"
fi

echo "== the MLP end to end on $device against bare Run"
dotnet run -c Release --project Benchmarks -- gpu-check --device "$device" --rows "${ROWS:-262144}" --batch "${BATCH:-2048}" --rounds "${ROUNDS:-5}"
