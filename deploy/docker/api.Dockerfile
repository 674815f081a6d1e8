# The webhook receiver: FastAPI + uvicorn, no torch, no model. Small and quick to start.
FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core ./core
COPY bot ./bot
COPY workers ./workers
COPY cli ./cli
COPY embedding ./embedding
RUN pip install ".[bot]" && useradd --system --uid 10001 doppel
USER doppel
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz'); sys.exit(0)"
CMD ["doppel", "serve", "--host", "0.0.0.0", "--port", "8000"]
