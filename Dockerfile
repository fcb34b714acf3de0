# syntax=docker/dockerfile:1
# weir's two images from one build stage. From the repository root:
#   docker build --target predictor  -t weir/predictor:0.1.0 .
#   docker build --target controller -t weir/controller:0.1.0 .
# The predictor serves one model version (models baked in under /models; mount
# your own repository over it); the controller also carries the weir CLI.

# ---- build: compile TypeScript once, then keep only production dependencies ----
FROM node:24-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
# --ignore-scripts: onnxruntime-node's postinstall would fetch CUDA binaries; the CPU ones ship in the package.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY shared ./shared
COPY controller/src ./controller/src
COPY predictor/src ./predictor/src
COPY predictor/training ./predictor/training
COPY test/bench ./test/bench
RUN npx tsc -p tsconfig.build.json \
 && cp -R controller/src/dashboard/ui dist/controller/src/dashboard/ \
 && npm prune --omit=dev --ignore-scripts \
 && rm -rf dist/predictor/training dist/test

# ---- predictor: ONNX Runtime's Linux CPU binaries for this architecture only ----
FROM build AS predictor-deps
RUN find node_modules/onnxruntime-node/bin -mindepth 3 -maxdepth 3 -type d ! -path "*/linux/*" -exec rm -rf {} + \
 && arch="$(node -p process.arch)" \
 && find node_modules/onnxruntime-node/bin/napi-v6/linux -mindepth 1 -maxdepth 1 -type d ! -name "$arch" -exec rm -rf {} +

FROM node:24-bookworm-slim AS predictor
ENV NODE_ENV=production \
    WEIR_MODEL_REPOSITORY=/models \
    WEIR_HOST=0.0.0.0 \
    WEIR_PORT=8080
WORKDIR /app
COPY --from=predictor-deps --chown=root:root /src/package.json ./
COPY --from=predictor-deps --chown=root:root /src/node_modules ./node_modules
COPY --from=predictor-deps --chown=root:root /src/dist ./dist
COPY --chown=root:root predictor/models /models
USER node
EXPOSE 8080
# Kubernetes uses the OIP probes (/v2/health/live, /v2/health/ready); this is for plain docker.
HEALTHCHECK --interval=10s --timeout=2s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WEIR_PORT||8080)+'/v2/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: readiness off, drain, exit.
ENTRYPOINT ["node", "dist/predictor/src/main.js"]

# ---- controller: never loads a model, so ONNX Runtime (~100 MB) stays out ----
FROM build AS controller-deps
RUN rm -rf node_modules/onnxruntime-node node_modules/onnxruntime-common

FROM node:24-bookworm-slim AS controller
ENV NODE_ENV=production
WORKDIR /app
COPY --from=controller-deps --chown=root:root /src/package.json ./
COPY --from=controller-deps --chown=root:root /src/node_modules ./node_modules
COPY --from=controller-deps --chown=root:root /src/dist ./dist
# Non-root (65532), read-only root filesystem friendly.
USER 65532:65532
EXPOSE 8080
# node is PID 1 and handles SIGTERM: finish the reconcile in progress, release the Lease, exit 0.
ENTRYPOINT ["node", "dist/controller/src/cli/main.js"]
CMD ["controller", "--help"]
