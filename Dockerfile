# One image for the three services and the CLI. The entrypoint is `tandem`; the Kubernetes manifests give the
# arguments: ["serve", "sessions"], ["migrate", "all"], ["topics", "check"], …
#
# Build:  docker build --build-arg VERSION=0.1.0 --build-arg REVISION="$(git rev-parse HEAD)" \
#           --build-arg SOURCE=<repository URL> -t tandem:0.1.0 .
# (podman build / buildah bud take the same arguments.)
#
# The base is python:3.11-slim (Debian trixie, CPython 3.11.16), pinned by the multi-platform index digest that
# docker-library/repo-info documents for it (repos/python/remote/3.11.16-slim.md, 13 Aug 2026). To move to a newer
# patch release, replace the digest with the one `docker buildx imagetools inspect python:3.11-slim` prints.
ARG PYTHON_IMAGE=python:3.11-slim@sha256:8203f8b7cc03e7a0b2da2a7bfebdb7e39d985983791e2aba5b01cc535bf36f53

# -- builder: the locked runtime dependencies and the project's wheel, into the venv /opt/tandem -----------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# pip and setuptools (requirements/build.lock) live in a venv of their own, so that /opt/tandem holds only what
# runs; `pip --python` installs into /opt/tandem, which has no pip. Every download is checked against the lock's
# hashes (--require-hashes).
COPY requirements/build.lock requirements/runtime.lock requirements/
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes -r requirements/build.lock \
    && python -m venv --without-pip /opt/tandem \
    && /opt/build/bin/pip --python /opt/tandem/bin/python install --require-hashes --no-compile \
        -r requirements/runtime.lock

# The project itself: a wheel (not an editable install), without dependencies (they are the lock's).
COPY pyproject.toml README.md ./
COPY shared shared
COPY services services
RUN /opt/build/bin/pip wheel --no-deps --no-build-isolation --wheel-dir /tmp/wheels . \
    && /opt/build/bin/pip --python /opt/tandem/bin/python install --no-deps --no-compile /tmp/wheels/tandem-*.whl \
    && /opt/tandem/bin/python -m compileall -q -j 0 --invalidation-mode unchecked-hash /opt/tandem/lib

# -- the image: the venv and a non-root user, nothing else --------------------------------------------------------
FROM ${PYTHON_IMAGE}

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=""

LABEL org.opencontainers.image.title="tandem" \
      org.opencontainers.image.description="Reverse-mentoring programmes as event-driven services: pairing, sessions, notifications." \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

# Nothing is written at run time outside /tmp: byte-code is compiled here, for the standard library too (the
# base image ships it without), and PYTHONDONTWRITEBYTECODE stops any attempt; the root filesystem can be read-only.
ENV PATH=/opt/tandem/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN python -m compileall -q -j 0 --invalidation-mode unchecked-hash -x '/(tests?|idle_test)/' \
        /usr/local/lib/python3.11 \
    && groupadd --system --gid 65532 tandem \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin tandem

COPY --from=builder /opt/tandem /opt/tandem

USER 65532:65532
WORKDIR /opt/tandem

EXPOSE 8001 8002 8003

ENTRYPOINT ["tandem"]
CMD ["--help"]
