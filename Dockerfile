# nicguard admission webhook image: ghcr.io/nicguard/nicguard:<package.json version>
#   docker build -t ghcr.io/nicguard/nicguard:0.1.0 .
# Build stage compiles TypeScript with the dev dependencies; the runtime stage carries
# only the compiled code, the config schema and the production dependencies.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY schemas ./schemas
COPY src ./src
RUN npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="nicguard" \
      org.opencontainers.image.description="Admission webhook and CI validator that makes KubeVirt network interface hotplug safe" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
# package.json is read at run time for the version; the schema validates --config files.
COPY --chown=0:0 package.json ./
COPY --chown=0:0 --from=prod-deps /app/node_modules ./node_modules
COPY --chown=0:0 --from=build /src/dist/src ./dist/src
COPY --chown=0:0 schemas ./schemas
# Files stay root-owned and read-only to the process; it runs as an unprivileged user
# (the same UID the Deployment sets) and writes nothing to the image.
USER 65532:65532
EXPOSE 8443 9090
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["serve", "--cert", "/certs/tls.crt", "--key", "/certs/tls.key", "--config", "/config/config.yaml"]
