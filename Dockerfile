# The ringcdn relay / bootstrap node.
#
#   docker build -t ringcdn-relay .
#   docker run -p 9090:9090 -p 9091:9091 -v ringcdn-relay:/data ringcdn-relay
#
# Flags and RINGCDN_RELAY_* variables: `docker run ringcdn-relay --help`.
# wss: mount a certificate and key and pass --cert/--key (or terminate TLS in
# a proxy and pass --announce /dns4/<host>/tcp/443/wss). See docs/relay.md.

FROM node:24-slim AS build
WORKDIR /app
# `npm install` rather than `npm ci` (as in .ci/run): aegir's `deno` dependency lists per-platform
# optional packages the lock file cannot always hold, and `npm ci` refuses such a lock. It still
# installs the versions package-lock.json pins.
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY . .
RUN npm run build

FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production \
    RINGCDN_RELAY_HOST=0.0.0.0 \
    RINGCDN_RELAY_PORT=9090 \
    RINGCDN_RELAY_HTTP_PORT=9091 \
    RINGCDN_RELAY_IDENTITY=/data/relay.key
COPY package.json package-lock.json ./
RUN npm install --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/relay ./dist/relay
# the relay's libp2p key lives here, so its /p2p/ id survives restarts and upgrades
RUN mkdir -p /data && chown node:node /data
VOLUME /data
USER node
# websocket (libp2p) port, and /health + /metrics
EXPOSE 9090 9091
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:' + (process.env.RINGCDN_RELAY_HTTP_PORT || 9091) + '/health').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "dist/relay/cli.js"]
