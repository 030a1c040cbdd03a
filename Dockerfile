# botport in a container: docs/deploy.md#in-a-container. `docker compose up -d` adds PostgreSQL and Redis.
#   docker build -t botport . && docker run -p 127.0.0.1:8400:8400 -v botport-data:/data botport
# BASE: any Debian-like image with Python 3.11+ and its venv module (python:3.11-slim by default).
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONUNBUFFERED=1

# A user of its own (not root), owning the data volume: SQLite file and cookie-signing key.
RUN useradd --system --user-group --uid 10001 --home-dir /data --no-create-home --shell /usr/sbin/nologin botport \
    && mkdir /data && chown botport:botport /data \
    && python3 -m venv /opt/botport

# The dependencies in a layer of their own, rebuilt only when pyproject.toml changes: installed with a
# stand-in package, which the real one replaces below.
COPY pyproject.toml README.md /build/
RUN mkdir -p /build/src/botport && touch /build/src/botport/__init__.py \
    && /opt/botport/bin/pip install /build \
    && /opt/botport/bin/pip uninstall --yes botport \
    && rm -rf /build/src /build/build

# botport itself: a small layer.
COPY src /build/src
RUN /opt/botport/bin/pip install --no-deps /build && rm -rf /build

ENV PATH=/opt/botport/bin:$PATH \
    BOTPORT_HOST=0.0.0.0 \
    BOTPORT_PORT=8400 \
    BOTPORT_DATA_DIR=/data

USER botport
WORKDIR /data
VOLUME /data
EXPOSE 8400
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python3 -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('BOTPORT_PORT', '8400'), timeout=4)"
CMD ["botport", "serve"]
