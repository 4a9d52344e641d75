# O in a container: a build stage resolves npm dependencies and the Zig modules with the pinned
# toolchains (both from npm), the runtime stage is a slim Debian with bubblewrap and the system libraries
# the Zig modules link, running as a non-root user.
#   docker build -t o . && docker run --security-opt seccomp=unconfined -p 8080:8080 o
# (the jail tier needs user namespaces; without them add "--tier process" to the command).

FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends libsqlite3-dev libpq-dev ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN npm install -g deno@2
COPY deno.json deno.lock* package.json* ./
RUN deno install
COPY . .
RUN deno cache main.ts agent/sandbox_main.ts && (deno task zig:build || echo "zig modules not built")

FROM debian:bookworm-slim AS runtime
RUN apt-get update && apt-get install -y --no-install-recommends \
      bubblewrap util-linux libsqlite3-0 libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --create-home --home-dir /home/o --uid 10001 o \
    && mkdir -p /data && chown o:o /data
COPY --from=build /usr/local/lib/node_modules/deno/deno /usr/local/bin/deno
COPY --from=build --chown=o:o /app /app
COPY --from=build --chown=o:o /root/.cache/deno /home/o/.cache/deno
WORKDIR /app
USER o
ENV DENO_DIR=/home/o/.cache/deno DENO_NO_UPDATE_CHECK=1
EXPOSE 8080
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["deno", "run", "-A", "main.ts"]
CMD ["start", "--host", "0.0.0.0", "--port", "8080", "--data", "/data"]
