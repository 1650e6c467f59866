# Everything a fresh machine (Python 3.11, pip, git, make, gcc) needs: `make run`, `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)
LOCALES := handlers/locales
CONFIG  ?= $(if $(wildcard config.toml),config.toml,config.example.toml)
# `make run` and `make shell` keep their data in the checkout (README, "Data directory").
DATA    ?= var

.PHONY: run shell test lint i18n catalogs bench clean synapse system

# Synapse for the Matrix end-to-end tests, in a virtualenv of its own so that its pinned
# dependencies never meet the bot's (testkit/synapse.py starts it).
SYNAPSE_VENV    := .venv-synapse
SYNAPSE_VERSION := 1.163.*
SYNAPSE_STAMP   := $(SYNAPSE_VENV)/.installed-$(subst *,x,$(SYNAPSE_VERSION))

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

catalogs: $(STAMP)
	$(VENV)/bin/pybabel compile --use-fuzzy --domain mitreden --directory $(LOCALES) --statistics 2>&1 | grep -v '^compiling' || true

$(SYNAPSE_STAMP):
	test -x $(SYNAPSE_VENV)/bin/python || python3 -m venv $(SYNAPSE_VENV)
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SYNAPSE_VENV)/bin/python -m pip install --quiet "matrix-synapse==$(SYNAPSE_VERSION)"
	rm -f $(SYNAPSE_VENV)/.installed-*
	touch $@

synapse: $(SYNAPSE_STAMP)

run: catalogs
	$(VENV)/bin/mitreden --config $(CONFIG) --data-dir $(DATA) run

shell: catalogs
	$(VENV)/bin/mitreden --config $(CONFIG) --data-dir $(DATA) shell

# Debian packages the tests need (PostgreSQL, Pango for the PDF report, poppler-utils).
system:
	bash .ci/system-packages

test: system catalogs synapse
	$(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check bot handlers storage tests bench testkit
	$(VENV)/bin/mypy

# Extract every marked text into the template and merge it into each catalogue.
i18n: $(STAMP)
	$(VENV)/bin/pybabel extract --no-location --sort-output --project mitreden \
	    --mapping-file babel.cfg --keywords '_ N_ ngettext:1,2' \
	    --output-file $(LOCALES)/mitreden.pot handlers bot
	$(VENV)/bin/pybabel update --no-fuzzy-matching --domain mitreden \
	    --input-file $(LOCALES)/mitreden.pot --output-dir $(LOCALES)
	$(MAKE) catalogs

clean:
	rm -rf $(VENV) $(SYNAPSE_VENV) .pytest_cache .mypy_cache .ruff_cache
