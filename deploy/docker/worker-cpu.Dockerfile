# A worker without a GPU: the CPU build of torch, the model package and the grammar wheels.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
RUN apt-get update && apt-get install -y --no-install-recommends git && rm -rf /var/lib/apt/lists/*
WORKDIR /app
RUN pip install "torch==2.13.0" --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
COPY workers ./workers
COPY cli ./cli
COPY embedding ./embedding
RUN pip install ".[ml,bot]" && useradd --system --uid 10001 --create-home doppel && mkdir -p /data && chown doppel /data
USER doppel
ENV DOPPEL_DATA_DIR=/data
VOLUME ["/data"]
CMD ["doppel", "worker", "--queues", "gpu,io"]
