# syntax=docker/dockerfile:1
# Build: docker build -t qbo-sync .
# Release step: docker run --rm --env-file .env qbo-sync qbo-sync migrate
# Run:   docker run --env-file .env -p 8000:8000 qbo-sync

FROM python:3.13-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# Dependencies first, from the hash-locked file, so code changes do not reinstall them.
COPY requirements.lock .
RUN pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY app ./app
COPY qbo_emulator ./qbo_emulator
COPY highlevel_emulator ./highlevel_emulator
RUN pip install --no-deps .

FROM python:3.13-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    QBS_HOST=0.0.0.0 \
    QBS_PORT=8000 \
    QBS_DATA_DIR=/data \
    QBS_AUTO_MIGRATE=false
RUN groupadd --system qbs && useradd --system --gid qbs --home-dir /srv/qbo-sync qbs \
    && mkdir -p /srv/qbo-sync /data && chown qbs:qbs /data
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv/qbo-sync
COPY alembic.ini ./
COPY migrations ./migrations
USER qbs
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["qbo-sync", "serve"]
