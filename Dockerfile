# syntax=docker/dockerfile:1
# Build stage: compile wheels (hogql-parser and asyncpg ship binary wheels; gcc is here for the rest).
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir .

# Runtime stage: only the virtualenv (migrations ship inside it), run as an unprivileged user.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 hogflows
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1
WORKDIR /data
RUN chown hogflows /data
USER hogflows
EXPOSE 8000
# Liveness of `hogflows serve` (a worker started with --metrics-port P answers /_health on P instead).
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/_health', timeout=3)"]
# With no DATABASE_URL the service keeps its SQLite file in /data (mount a volume there). `serve` and
# `worker` bring the schema to head at start (`--no-migrate` to leave that to a `hogflows migrate` step).
CMD ["hogflows", "serve", "--host", "0.0.0.0", "--port", "8000"]
