# A GPU worker: CUDA runtime + the CUDA build of torch 2.13.0 (bf16 on the GPU). One per GPU.
FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ENV DEBIAN_FRONTEND=noninteractive PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 VIRTUAL_ENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv git \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv
WORKDIR /app
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cu128
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
COPY workers ./workers
COPY cli ./cli
COPY embedding ./embedding
RUN pip install ".[ml,bot]" && useradd --system --uid 10001 --create-home doppel && mkdir -p /data && chown doppel /data
USER doppel
ENV DOPPEL_DATA_DIR=/data DOPPEL_DEVICE=cuda
VOLUME ["/data"]
CMD ["doppel", "worker", "--queues", "gpu", "--concurrency", "1", "--prefetch-multiplier", "1"]
