# Set-up:  make install   |   make test
# Main job: make apply    |   llm-twin infer "..."   |   make destroy
#
# TARGET=local (default) applies against the embedded local AWS on loopback;
# TARGET=aws applies against real AWS with the credentials in .env.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TARGET ?= local
export TARGET

# The offline image used by CI carries a filesystem mirror of hashicorp/aws here;
# elsewhere this stays empty and `terraform init` downloads from the registry.
TF_PLUGIN_DIR ?= $(wildcard /opt/tf-plugins)
export TF_PLUGIN_DIR

LLM_TWIN := $(BIN)/llm-twin

# pytest-xdist workers for `make test` (see the test target).
TEST_WORKERS ?= 3

# checkov pins its own boto3, botocore and packaging, older than ours: it lives in a
# venv of its own, rebuilt when the pinned version changes. Tests find it through
# CHECKOV (tests/terraform/test_checkov.py), with the same default.
CHECKOV_VERSION := 3.3.30
CHECKOV_VENV := $(VENV)/tools/checkov
CHECKOV ?= $(CHECKOV_VENV)/bin/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)
export CHECKOV CHECKOV_VERSION

.PHONY: install bootstrap apply plan destroy destroy-bootstrap test lint fmt clean

install: $(STAMP)

# pip, not uv/poetry: the CPU torch wheel pinned in pyproject is only found by pip.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[local,serve,dev]"
	touch $(STAMP)

# Order-only on $(STAMP): .venv must be a venv before tools/ is made inside it.
$(CHECKOV_STAMP): | $(STAMP)
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet "checkov==$(CHECKOV_VERSION)"
	touch $(CHECKOV_STAMP)

# The browser test drives Debian's chromium through Playwright (no browser download).
# Installed once per venv; root runs apt-get itself, anyone else needs sudo.
CHROMIUM := /usr/bin/chromium
CHROMIUM_STAMP := $(VENV)/.chromium
$(CHROMIUM_STAMP): | $(STAMP)
	if [ ! -x $(CHROMIUM) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null; then SUDO=sudo; \
	  else echo "$(CHROMIUM) is missing: install Debian's chromium package as root" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi
	test -x $(CHROMIUM)
	touch $(CHROMIUM_STAMP)

bootstrap: $(STAMP)
	$(LLM_TWIN) bootstrap

# Runs the bootstrap first when it has not run yet on this target.
apply: $(STAMP)
	$(LLM_TWIN) bootstrap --if-needed
	$(LLM_TWIN) apply

plan: $(STAMP)
	$(LLM_TWIN) plan

destroy: $(STAMP)
	$(LLM_TWIN) destroy

destroy-bootstrap: $(STAMP)
	$(LLM_TWIN) destroy-bootstrap

# Three workers on 2 cores (much of the suite waits on terraform and servers), a whole file
# each at a time: a file's module fixtures (emulators, servers) are built once, and each
# worker applies its own shared stack. TEST_WORKERS=auto on a bigger machine.
test: $(STAMP) $(CHECKOV_STAMP) $(CHROMIUM_STAMP)
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=15

lint: $(STAMP) $(CHECKOV_STAMP)
	terraform fmt -check -recursive terraform
	$(BIN)/ruff check llm_twin llm_twin_local tests bench
	$(BIN)/ruff format --check llm_twin llm_twin_local tests bench
	$(BIN)/mypy
	$(BIN)/llm-twin validate
	$(CHECKOV) --config-file .checkov.yaml

fmt: $(STAMP)
	terraform fmt -recursive terraform
	$(BIN)/ruff format llm_twin llm_twin_local tests bench

clean:
	rm -rf $(VENV) .llm-twin .pytest_cache
