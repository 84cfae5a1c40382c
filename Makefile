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

.PHONY: install bootstrap apply plan destroy destroy-bootstrap test lint fmt clean

install: $(STAMP)

# pip, not uv/poetry: the CPU torch wheel pinned in pyproject is only found by pip.
$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[serve,dev]"
	touch $(STAMP)

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

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	terraform fmt -check -recursive terraform
	$(BIN)/ruff check llm_twin tests bench
	$(BIN)/ruff format --check llm_twin tests bench
	$(BIN)/llm-twin validate

fmt: $(STAMP)
	terraform fmt -recursive terraform
	$(BIN)/ruff format llm_twin tests bench

clean:
	rm -rf $(VENV) .llm-twin .pytest_cache
