# weir: build, test, demo and benchmark from a fresh machine.
# Everything this file needs it installs itself: Node 24 (from the npm
# registry, when the machine's Node is older than 22) and node_modules.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

TOOLS := $(CURDIR)/.tools
TOOL_NODE := $(TOOLS)/node_modules/node/bin/node
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)

# Put the project's own Node first on PATH when the machine's is too old, so
# npm, tsc and jest all run on it.
ifeq ($(shell [ $(SYSTEM_NODE_MAJOR) -ge 22 ] && echo new),new)
NODE_PREREQ :=
else
NODE_PREREQ := $(TOOL_NODE)
export PATH := $(TOOLS)/node_modules/.bin:$(PATH)
endif

NODE := node
STAMP := node_modules/.weir-installed

.PHONY: help deps build typecheck lint format test test-unit test-k8s kube-tools demo bench bench-controller bench-judgement models crd alerts dashboards sim system-tools browser clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(TOOL_NODE):
	@echo "machine Node is $(SYSTEM_NODE_MAJOR).x (< 22): installing Node 24 into .tools/ from the npm registry" >&2
	@npm install --prefix $(TOOLS) --no-save --no-package-lock node@24 >&2
	@$(TOOL_NODE) --version >&2

# npm 11 writes only this platform's optional packages into the lock file and
# then `npm ci` refuses that same lock; `npm install --no-save` installs exactly
# the locked versions without rewriting it.
$(STAMP): package.json package-lock.json $(NODE_PREREQ)
	@echo "installing node_modules" >&2
	@npm ci --no-audit --no-fund >&2 2>/dev/null || { \
	  echo "npm ci refused the lock file; installing the locked versions with npm install --no-save" >&2; \
	  npm install --no-save --no-audit --no-fund >&2; }
	@touch $@

deps: $(STAMP) ## install Node (if needed) and node_modules

# Real Prometheus and Alertmanager for the tests and the demo: Debian's packages,
# installed when the binaries are missing and apt-get can run (root).
# redis-server holds the shared prediction log in the demo and the tests.
SYSTEM_PACKAGES := prometheus prometheus-alertmanager redis-server
system-tools: ## install Debian's prometheus, prometheus-alertmanager and redis-server when missing (needs root)
	@if ! command -v prometheus >/dev/null || ! command -v prometheus-alertmanager >/dev/null || ! command -v redis-server >/dev/null; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing $(SYSTEM_PACKAGES) from Debian's packages" >&2; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    (apt-get install -y -qq $(SYSTEM_PACKAGES) || (apt-get update -qq && apt-get install -y -qq $(SYSTEM_PACKAGES))) >&2; \
	  else \
	    echo "prometheus, prometheus-alertmanager or redis-server is missing; install them (apt-get install $(SYSTEM_PACKAGES)) or run make as root" >&2; exit 1; \
	  fi; \
	fi

# Headless Chromium for the report test (Debian's package; playwright-core drives it).
browser: ## install Debian's chromium when missing (needs root; the report test drives it headless)
	@if [ ! -x "$${WEIR_CHROMIUM:-/usr/bin/chromium}" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing chromium from Debian's packages (headless, for the report test)" >&2; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    (apt-get install -y -qq chromium || (apt-get update -qq && apt-get install -y -qq chromium)) >&2; \
	  else \
	    echo "chromium is missing; install it (apt-get install chromium), set WEIR_CHROMIUM, or run make as root" >&2; exit 1; \
	  fi; \
	fi

build: $(STAMP) ## compile TypeScript to dist/
	@echo "compiling TypeScript into dist/" >&2
	@npx --no-install tsc -p tsconfig.build.json >&2
	@# The dashboard's page (HTML, CSS, a browser script) travels with the code that serves it.
	@mkdir -p dist/controller/src/dashboard && cp -R controller/src/dashboard/ui dist/controller/src/dashboard/

typecheck: $(STAMP) ## type-check every source and test file
	npx --no-install tsc -p tsconfig.json --noEmit

models: build ## regenerate predictor/models deterministically
	$(NODE) dist/predictor/training/train.js --out predictor/models

crd: build ## regenerate manifests/crds from the ModelRollout schema
	$(NODE) bin/weir.js generate crd

dashboards: build ## regenerate dashboards/*.json (Grafana) from controller/src/observability/dashboards.ts
	$(NODE) bin/weir.js generate dashboards

alerts: build ## regenerate manifests/monitoring/prometheusrule.yaml from alerts/
	$(NODE) bin/weir.js generate alerts

sim: build ## simulate rollouts (weir vs baselines), bandit allocation and A/B/n experiments, JSON report on stdout (RUNS=, BANDIT_RUNS=, ABN_RUNS=)
	@$(NODE) dist/controller/src/sim/run-sim.js $(if $(RUNS),--runs $(RUNS)) $(if $(BANDIT_RUNS),--bandit-runs $(BANDIT_RUNS)) $(if $(ABN_RUNS),--abn-runs $(ABN_RUNS))

# kube-apiserver and etcd for the Kubernetes-mode tests: $KUBEBUILDER_ASSETS, or a
# build cached under ~/.cache/weir (made once from Debian's source, ~5 minutes).
# kubectl too: the machine's, or Debian's kubernetes-client when there is none.
kube-tools: ## get kube-apiserver and etcd (built once, cached in ~/.cache/weir) and kubectl
	@bash test/k8s/get-apiserver.sh >/dev/null
	@command -v kubectl >/dev/null || { echo "installing kubectl (Debian's kubernetes-client)" >&2; \
	  (apt-get install -y -qq kubernetes-client || (apt-get update -qq && apt-get install -y -qq kubernetes-client)) >&2; }

test-k8s: build kube-tools ## the Kubernetes-mode tests alone (real kube-apiserver + etcd)
	$(NODE) --experimental-vm-modules node_modules/jest/bin/jest.js --ci test/k8s

lint: $(STAMP) ## check formatting (Prettier) and lint rules, the layer rules included (ESLint)
	@npx --no-install prettier --check --log-level warn "**/*.{ts,js,cjs,mjs}"
	@npx --no-install eslint --max-warnings 0 .

format: $(STAMP) ## format every source file (Prettier)
	@npx --no-install prettier --write --log-level warn "**/*.{ts,js,cjs,mjs}"

test-unit: $(STAMP) ## the unit tests alone: pure code, no system packages, no root, well under a minute
	$(NODE) --experimental-vm-modules node_modules/jest/bin/jest.js --ci shared controller/src predictor/src

test: build typecheck lint system-tools browser kube-tools ## run every test (jest's summary is the last thing printed)
	$(NODE) --experimental-vm-modules node_modules/jest/bin/jest.js --ci

demo: build system-tools ## a full local canary rollout: the good scenario, then the bad-accuracy one
	$(NODE) bin/weir.js demo --scenario good
	$(NODE) bin/weir.js demo --scenario bad-accuracy

# The seed-style peer of `make bench`: FastAPI + uvicorn + scikit-learn, from Debian.
# Debian's own python3, whatever else is first on PATH (pyenv, venvs): the packages are its.
PEER_PACKAGES := python3-fastapi python3-uvicorn python3-sklearn
PEER_PYTHON := /usr/bin/python3
bench: build system-tools ## benchmark the predictor: floors, seed-style peer, sustained load, prediction log off and on; JSON with targets on stdout
	@command -v wrk >/dev/null || { echo "installing wrk (Debian package) to generate load" >&2; \
	  (apt-get install -y -qq wrk || (apt-get update -qq && apt-get install -y -qq wrk)) >/dev/null 2>&1 \
	  || echo "wrk is unavailable; the benchmark falls back to autocannon" >&2; }
	@$(PEER_PYTHON) -c 'import fastapi, uvicorn, sklearn' 2>/dev/null || { \
	  echo "installing $(PEER_PACKAGES) (Debian packages) for the seed-style peer" >&2; \
	  (apt-get install -y -qq $(PEER_PACKAGES) || (apt-get update -qq && apt-get install -y -qq $(PEER_PACKAGES))) >/dev/null 2>&1 \
	  || echo "the seed-style peer's packages cannot be installed here; the benchmark skips the peer and says so" >&2; }
	@PEER_PYTHON=$(PEER_PYTHON) $(NODE) dist/test/bench/predictor.js

bench-controller: build system-tools kube-tools ## one controller, ROLLOUTS=1000 ModelRollouts on a real kube-apiserver + Prometheus for DURATION=900 s (STAGE=3m, CONCURRENCY=16); one JSON line on stdout
	@ROLLOUTS=$(or $(ROLLOUTS),1000) DURATION=$(or $(DURATION),900) STAGE=$(or $(STAGE),3m) CONCURRENCY=$(or $(CONCURRENCY),16) \
	  $(NODE) dist/test/bench/controller.js

bench-judgement: build system-tools ## run weir demo scenarios repeatedly (10 good, 10 bad-accuracy, 5 slow; ARGS="--good 3 --no-baseline"), outcomes as JSON
	@$(NODE) dist/test/bench/judgement.js $(ARGS)

clean: ## remove dist/ and caches in the checkout
	rm -rf dist node_modules/.cache
