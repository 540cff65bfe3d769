# syntax=docker/dockerfile:1
# SageMaker "bring your own container" image: `docker run IMAGE serve`.
# Not built on the project's machines (they have no Docker engine); see README "Container image".

# --- the worker, self-contained, with ONNX Runtime from its official NuGet packages ----------------
# Microsoft.ML.OnnxRuntime.Managed + .Gpu.Linux 1.31.0 (Directory.Packages.props): the publish puts
# libonnxruntime.so and its CUDA 13 and TensorRT providers next to the program. The same runtime the
# tests and benchmarks use; nothing else is fetched.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY Worker/Worker.csproj Worker/
RUN dotnet restore Worker/Worker.csproj -r linux-x64
COPY Worker/ Worker/
RUN dotnet publish Worker/Worker.csproj -c Release -r linux-x64 --self-contained true --no-restore -o /app \
 && test -f /app/libonnxruntime.so && test -f /app/libonnxruntime_providers_shared.so \
 && test -f /app/libonnxruntime_providers_cuda.so

# --- runtime: CUDA 13 with cuDNN 9, no driver inside (the NVIDIA container runtime mounts it) ------
# libonnxruntime_providers_cuda.so needs libcudart.so.13, libcublas.so.13, libcublasLt.so.13,
# libcurand.so.10 and libcuda.so.1 (the driver's), and opens libcudnn.so.9 at run time: all in this
# base. TensorRT (WORKER_DEVICE=tensorrt) also needs libnvinfer.so.10 and libnvonnxparser.so.10,
# which this base lacks: add TensorRT 10 for CUDA 13 in a derived image to use it.
FROM nvidia/cuda:13.0.0-cudnn-runtime-ubuntu24.04
# SageMaker reads these labels: the worker listens on SAGEMAKER_BIND_TO_PORT when it is set (serial
# inference pipelines), and serves SageMaker's multi-model API under /models when started with
# SAGEMAKER_MULTI_MODEL=true (or serve --multi-model).
LABEL com.amazonaws.sagemaker.capabilities.accept-bind-to-port=true \
      com.amazonaws.sagemaker.capabilities.multi-models=true
ENV DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 \
    DOTNET_gcServer=0 \
    WORKER_DEVICE=auto
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin worker
COPY --from=build /app /app
USER worker
EXPOSE 8080
ENTRYPOINT ["/app/Worker"]
CMD ["serve"]
