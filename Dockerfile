# YACI: the GitHub App server. Build: docker build -t yaci . ;
# run: docker run --env-file .env -p 3000:3000 -v yaci:/data --security-opt seccomp=unconfined yaci
# The image also holds the CLI: docker run --rm -v "$PWD":/src -w /src yaci yaci validate
FROM node:22-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-alpine
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="YACI" \
      org.opencontainers.image.description="Yet Another CI: a GitHub App that runs .yaci.yml jobs locally or on Kubernetes and reports them as check runs" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="ISC" \
      org.opencontainers.image.documentation="README.md"
# bubblewrap: the local executor's sandbox. YACI_LOCAL_SANDBOX=required: the app refuses to start
# rather than run jobs unsandboxed. Docker's default seccomp profile blocks the user namespaces
# bwrap needs: run this container with `--security-opt seccomp=unconfined` (or a seccomp profile
# that allows clone/unshare with CLONE_NEWUSER; on AppArmor hosts also `--security-opt
# apparmor=unconfined`), or use the Kubernetes executor (YACI_EXECUTOR=kubernetes, deploy/).
# tini: PID 1 that passes SIGTERM (docker stop, Kubernetes) on to the app and reaps the processes
# that jobs leave behind, which are re-parented to it.
RUN apk add --no-cache bubblewrap tini
ENV NODE_ENV=production YACI_DATA_DIR=/data PORT=3000 HOST=0.0.0.0 YACI_LOCAL_SANDBOX=required
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/lib ./lib
COPY app.yml ./
COPY bin ./bin
RUN ln -s /app/bin/yaci.js /usr/local/bin/yaci \
 && mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME /data
EXPOSE 3000
# /healthz answers while the process serves HTTP (busybox wget is in the base image).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD wget -q -O /dev/null "http://127.0.0.1:${PORT}/healthz" || exit 1
ENTRYPOINT ["/sbin/tini", "--"]
CMD ["node", "lib/main.js"]
