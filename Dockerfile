# syntax=docker/dockerfile:1
# SageMaker "bring your own container" image: `docker run IMAGE serve`.
# Not built on the project's machines (they have no Docker engine); see README "Container image".

# --- ONNX Runtime with the CUDA provider, pinned by version and checksum --------------------------
# ORT 1.29.0 built for CUDA 13 (DESIGN.md §5): the core library and the CUDA provider, from npm.
FROM node:22-bookworm-slim AS ort
ARG ORT_CORE_PACKAGE=com.github.asus4.onnxruntime@0.4.9
ARG ORT_CORE_SHA1=3659f34012db8208ffb7f67d704204cb08792fed
ARG ORT_GPU_PACKAGE=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
ARG ORT_GPU_SHA1=4fba8272b000ed4b6789715f67b67d2447fab198
WORKDIR /ort
RUN npm pack "$ORT_CORE_PACKAGE" --silent && npm pack "$ORT_GPU_PACKAGE" --silent \
 && echo "$ORT_CORE_SHA1  com.github.asus4.onnxruntime-0.4.9.tgz" | sha1sum -c - \
 && echo "$ORT_GPU_SHA1  com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz" | sha1sum -c - \
 && mkdir -p core gpu lib \
 && tar -xzf com.github.asus4.onnxruntime-0.4.9.tgz -C core \
 && tar -xzf com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz -C gpu \
 && cp -L core/package/Plugins/Linux/x64/libonnxruntime.so lib/libonnxruntime.so.1 \
 && find gpu/package -name 'libonnxruntime_providers_*.so' -exec cp -L {} lib/ \; \
 && ls -la lib

# --- the worker, self-contained -------------------------------------------------------------------
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY Worker/Worker.csproj Worker/
COPY Worker/build/ Worker/build/
RUN dotnet restore Worker/Worker.csproj -r linux-x64
COPY Worker/ Worker/
# The CPU library that local builds fetch is not wanted here: the ort stage supplies the GPU build.
RUN dotnet publish Worker/Worker.csproj -c Release -r linux-x64 --self-contained true --no-restore \
      -p:OrtFetchEnabled=false -o /app

# --- runtime: CUDA 13 with cuDNN, no driver inside (the NVIDIA container runtime mounts it) -------
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
    DOTNET_gcServer=0 \
    WORKER_DEVICE=auto
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin worker
COPY --from=build /app /app
COPY --from=ort /ort/lib/ /app/
USER worker
EXPOSE 8080
ENTRYPOINT ["/app/Worker"]
CMD ["serve"]
