# canarywatch daemon image: `docker run ... canarywatch --bootstrap-servers kafka:9092`
# Build: docker build -t canarywatch .
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --upgrade pip wheel
COPY pyproject.toml README.md ./
COPY canarywatch ./canarywatch
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# Off loopback the HTTP API needs a bearer token: mount one (at least 16 characters) at
# /run/secrets/canarywatch-api-token, e.g. `docker run -v $PWD/token:/run/secrets/
# canarywatch-api-token:ro ...` or a Docker/Kubernetes secret; without it `run` exits 2 and
# says how. Routers send it as `Authorization: Bearer` (Flagger: metadata.token).
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CANARYWATCH_SERVER__LISTEN=0.0.0.0:9464 \
    CANARYWATCH_SERVER__BEARER_TOKEN_FILE=/run/secrets/canarywatch-api-token \
    CANARYWATCH_STATE_DIR=/var/lib/canarywatch
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels \
    && groupadd --system --gid 10001 canarywatch \
    && useradd --system --uid 10001 --gid canarywatch --home-dir /var/lib/canarywatch \
       --shell /usr/sbin/nologin canarywatch \
    && mkdir -p /var/lib/canarywatch && chown canarywatch:canarywatch /var/lib/canarywatch \
    && chmod 0700 /var/lib/canarywatch
USER 10001:10001
WORKDIR /var/lib/canarywatch
VOLUME ["/var/lib/canarywatch"]
EXPOSE 9464
# The health check asks /healthz on the port server.listen names (CANARYWATCH_SERVER__LISTEN, as
# `run` reads it), so changing the port needs no new image; Kubernetes probes /readyz apart
# (config/kubernetes/deployment.yaml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["canarywatch", "probe"]
# SIGTERM finishes the batch, saves state, commits offsets and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["canarywatch", "run"]
