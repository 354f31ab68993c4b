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
# With no DATABASE_URL the service keeps its SQLite file in /data (mount a volume there).
CMD ["hogflows", "serve", "--host", "0.0.0.0", "--port", "8000"]
