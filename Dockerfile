# Kutamo Identity's images: one Dockerfile for both services, and the demo's Microsoft emulator.
# Build from the repository root (docker-compose.yml builds all three):
#   docker build --build-arg SERVICE=identity --build-arg PORT=8000 -t kutamo-identity .
#   docker build --build-arg SERVICE=provisioning --build-arg PORT=8001 -t kutamo-provisioning .
#   docker build --target emulator -t kutamo-emulator .

# What every image starts from.
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Pinned third-party dependencies first (their own layer, shared by the images and reused while the lock is
# unchanged): the runtime lock only, every file checked against its hash; no development tool reaches an image.
# It covers what the emulator imports too (litestar, uvicorn, msgspec, pyjwt, httpx).
COPY requirements/runtime.lock /tmp/runtime.lock
RUN pip install --require-hashes -r /tmp/runtime.lock && rm /tmp/runtime.lock

# The project's own packages, without resolving dependencies again (the lock already did).
COPY contracts /src/contracts
RUN pip install --no-deps /src/contracts && rm -rf /src

RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin kutamo
WORKDIR /tmp

# Microsoft emulator (login + Graph endpoints) for the `demo` compose profile. Never for production.
FROM base AS emulator

# Editable install: the emulator serves data files (e.g. its photo) straight from its source folder,
# which a regular wheel would only carry if they were declared as package data.
COPY dev /app/dev
RUN pip install --no-deps -e /app/dev

USER 10001:10001
EXPOSE 8010

CMD ["python", "-m", "kutamo_dev.emulator", "--host", "0.0.0.0", "--port", "8010"]

# A service (the default, last stage): SERVICE is identity or provisioning, and the image runs
# `python -m kutamo_<SERVICE>`; PORT is where it listens (docker-compose.yml: identity 8000, provisioning 8001).
FROM base AS service
ARG SERVICE
ARG PORT

RUN case "$SERVICE" in identity|provisioning) ;; \
        *) echo "SERVICE must be identity or provisioning: docker build --build-arg SERVICE=identity --build-arg PORT=8000 ." >&2; exit 1 ;; \
    esac; \
    case "$PORT" in ''|*[!0-9]*) echo "PORT must be the port the service listens on: --build-arg PORT=8000" >&2; exit 1 ;; esac

COPY kit /src/kit
COPY services/${SERVICE} /src/services/${SERVICE}
RUN pip install --no-deps /src/kit /src/services/${SERVICE} && rm -rf /src

USER 10001:10001

ENV KUTAMO_SERVICE=${SERVICE} \
    HOST=0.0.0.0 \
    PORT=${PORT}
EXPOSE ${PORT}

HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ['PORT'] + '/health/live', timeout=4)"]

# exec: the service itself, not the shell, is PID 1 and gets `docker stop`'s SIGTERM.
CMD ["/bin/sh", "-c", "exec python -m \"kutamo_${KUTAMO_SERVICE}\""]
