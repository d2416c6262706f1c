# YACI: the GitHub App server. Build: docker build -t yaci . ;
# run: docker run --env-file .env -p 3000:3000 --security-opt seccomp=unconfined yaci
FROM node:22-alpine AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:22-alpine
# bubblewrap: the local executor's sandbox. YACI_LOCAL_SANDBOX=required: the app refuses to start
# rather than run jobs unsandboxed. Docker's default seccomp profile blocks the user namespaces
# bwrap needs: run this container with `--security-opt seccomp=unconfined` (or a seccomp profile
# that allows clone/unshare with CLONE_NEWUSER; on AppArmor hosts also `--security-opt
# apparmor=unconfined`), or use the Kubernetes executor (YACI_EXECUTOR=kubernetes, deploy/).
RUN apk add --no-cache bubblewrap
ENV NODE_ENV=production YACI_DATA_DIR=/data PORT=3000 HOST=0.0.0.0 YACI_LOCAL_SANDBOX=required
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/lib ./lib
COPY app.yml ./
RUN mkdir -p /data && chown node:node /data && chmod 700 /data
USER node
VOLUME /data
EXPOSE 3000
CMD ["node", "lib/main.js"]
