# kuzet — multi-stage image: dependencies are installed in a build stage, the runtime stage runs as a
# non-root user with only what it needs. Data (the embedded store) lives in the /var/lib/kuzet volume.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
# pg_dump/pg_restore for backups and restore drills; tar for folder archives; tini reaps child processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client tar tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system kuzet && useradd --system --gid kuzet --home-dir /var/lib/kuzet --create-home kuzet
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY config ./config
COPY probes ./probes
COPY runbooks ./runbooks
ENV NODE_ENV=production \
    KUZET_DATA_DIR=/var/lib/kuzet/pglite \
    KUZET_ATTACHMENTS_DIR=/var/lib/kuzet/attachments \
    KUZET_PORT=8080 \
    KUZET_LISTEN=0.0.0.0
USER kuzet
VOLUME ["/var/lib/kuzet"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.KUZET_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/kuzet.js"]
CMD ["run", "--config", "config/kuzet.yaml"]
