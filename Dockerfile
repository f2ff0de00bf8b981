# syntax=docker/dockerfile:1
# Bulwark's container image: one image for every role (`bulwark replica`, `bulwark client`,
# `bulwark init`, `bulwark verify-ledger`, ...). Build: docker build -t bulwark:0.1.0 .
# What /app holds is assembled by scripts/assemble-image.ts, the script CI also runs
# (test/e2e/deploy-image.test.ts) and then starts a network from, with nothing else installed.
# docs/operations/containers.md has the build and run steps.

# Node 20 on Debian 12 (glibc: the prebuilt RocksDB, BLS and secp256k1 binaries need it). Pin a
# digest (node:20-bookworm-slim@sha256:...) for reproducible production builds.
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- build: production dependencies only, then the image's tree in /out ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the native packages (RocksDB, secp256k1, BLS) load prebuilt binaries that
# ship inside them; nothing is compiled, so the build needs no compiler and runs no install script.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
# The explorer's page, which every client node serves at / (plain ES modules, no build).
COPY explorer ./explorer
COPY scripts/assemble-image.ts ./scripts/
COPY deploy/docker ./deploy/docker
RUN node --import tsx scripts/assemble-image.ts --out /out

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="bulwark" \
      org.opencontainers.image.description="Bulwark: a permissioned Ethereum ledger (SBFT replicas, EVM execution, JSON-RPC client nodes)" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed, unprivileged uid/gid, the one the Kubernetes manifests name (runAsUser 10001).
RUN groupadd --system --gid 10001 bulwark \
 && useradd --system --uid 10001 --gid bulwark --home-dir /var/lib/bulwark --shell /usr/sbin/nologin bulwark \
 && mkdir -p /var/lib/bulwark \
 && chown bulwark:bulwark /var/lib/bulwark \
 && chmod 0700 /var/lib/bulwark
# The code is root's and read-only to the node: a compromised node cannot rewrite it.
COPY --from=build /out /app
# As `npm start` and the test networks run a node (src/cli/node-process.ts): glibc's allocator kept
# to two arenas, blocks of 128 KiB and more mapped on their own, and (in ENTRYPOINT) V8's heap
# limits, so memory stays bounded the way bench/RESULTS.md measured it.
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072 \
    BULWARK_HEALTH_URL=http://127.0.0.1:9100/health
USER bulwark:bulwark
WORKDIR /var/lib/bulwark
# Node directories (keys, RocksDB) live under here: mount a volume on it (no VOLUME instruction,
# so a one-off `docker run bulwark ...` leaves no anonymous volume behind).
# 7100: a replica's TLS port for peers and client nodes; 8545: a client node's JSON-RPC (HTTP and
# WebSocket); 9100: /metrics and /health of either (start nodes with --metrics-port 9100
# --metrics-host 0.0.0.0).
EXPOSE 7100 8545 9100
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "/app/deploy/docker/healthcheck.mjs"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "--max-old-space-size=768", "--max-semi-space-size=32", "/app/bin/bulwark.mjs"]
CMD ["--help"]
