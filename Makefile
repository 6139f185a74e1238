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
VENV_KEY := $(shell cat pyproject.toml requirements/constraints.txt | sha256sum | cut -c1-16)
VENV_STAMP := $(VENV)/.strata-$(VENV_KEY)
# pip's download/wheel cache lives outside the clone so that fresh clones reuse it.
export PIP_CACHE_DIR ?= $(HOME)/.cache/strata/pip

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

$(VENV_STAMP): pyproject.toml requirements/constraints.txt
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c requirements/constraints.txt -e '.[dev]'
	touch $@

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
up: cloud-start ## Set up and converge env=local in the embedded cloud, start the SSH lab, then print what exists
	$(BIN)/ansible-playbook site.yml -e env=local
	$(BIN)/strata-lab up --env local
	$(BIN)/ansible-playbook -i inventories/local playbooks/hosts.yml -e env=local
	$(BIN)/strata-cloud summary --env local
	$(BIN)/strata-lab status

.PHONY: lab-up
lab-up: venv ## (Re)start the SSH lab for env=local's instances (after site.yml)
	$(BIN)/strata-lab up --env local

.PHONY: lab-down
lab-down: venv ## Stop the SSH lab and remove its keys and networks
	$(BIN)/strata-lab down

.PHONY: destroy
destroy: venv ## Destroy env=local's resources and the lab (the embedded cloud keeps running)
	$(BIN)/strata-lab down
	if $(BIN)/strata-cloud status >/dev/null; then \
	  $(BIN)/ansible-playbook playbooks/destroy.yml -e env=local; \
	  $(BIN)/strata-cloud leftovers --env local; \
	else echo "embedded cloud not running: nothing to destroy"; fi

.PHONY: down
down: destroy ## Destroy everything of env=local and stop the embedded cloud
	$(BIN)/strata-cloud stop

.PHONY: lint
lint: venv ## ruff, mypy, yamllint, ansible-lint (production profile)
	$(BIN)/ruff check src plugins tests
	$(BIN)/ruff format --check src plugins tests
	$(BIN)/mypy
	$(BIN)/yamllint --strict .
	$(BIN)/ansible-lint

.PHONY: unit
unit: venv ## Unit and property-based tests
	$(BIN)/pytest tests/unit

.PHONY: integration
integration: venv ## Playbooks against a private embedded cloud (started and stopped by the tests)
	$(BIN)/pytest tests/integration

.PHONY: molecule
molecule: venv ## Molecule scenarios (delegated driver against a private embedded cloud)
	$(BIN)/pytest tests/molecule

.PHONY: test
test: venv lint unit integration molecule ## Set up and run the whole suite (what CI runs)

.PHONY: bench
bench: venv ## Benchmarks: inventory discovery (1,000 instances) and SSH fan-out through the bastion (20 lab nodes)
	$(BIN)/python -m strata.bench
