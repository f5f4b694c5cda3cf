# syntax=docker/dockerfile:1
# One image for every Signoff process: `signoff api` (default), `signoff worker`,
# `signoff db upgrade`. Built from the repository root:
#   docker build -t signoff:0.1.0 .
# The Helm chart (helm/signoff) and temporal-dev/compose.yaml run it as UID 10001 with a
# read-only root filesystem; only /tmp and /var/lib/signoff (SIGNOFF_DATA_DIR) are written.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/signoff
WORKDIR /src
# .dockerignore lets in only pyproject.toml, README.md and the Python packages.
COPY . .
RUN /opt/signoff/bin/pip install --upgrade pip \
    && /opt/signoff/bin/pip install . \
    && /opt/signoff/bin/signoff --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
# tesseract reads scanned invoices (the worker's OCR step).
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 signoff \
    && useradd --system --uid 10001 --gid 10001 --home-dir /home/signoff --create-home \
        --shell /usr/sbin/nologin signoff \
    && mkdir -p /var/lib/signoff \
    && chown 10001:10001 /var/lib/signoff
COPY --from=builder /opt/signoff /opt/signoff
ENV PATH=/opt/signoff/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    XDG_CACHE_HOME=/tmp/.cache \
    SIGNOFF_DATA_DIR=/var/lib/signoff \
    SIGNOFF_API_HOST=0.0.0.0 \
    SIGNOFF_API_PORT=8000
WORKDIR /home/signoff
USER 10001:10001
# 8000: the API (and its /metrics); 9464: the worker's Prometheus metrics.
EXPOSE 8000 9464
ENTRYPOINT ["signoff"]
CMD ["api"]
