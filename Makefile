# Partflow: one command to run the server, one to run every test.
#
#   make run    build partflow, set up the cascadio converter plugin, serve on
#               the embedded SQLite default (./data)
#   make test   set up everything the tests need, then run all of them
#
# Everything below is installed into the repository (bin/, the plugin's
# .venv): nothing is installed system-wide except by `make ci-deps`, which
# .ci/run calls on a fresh machine.

GO      ?= go
PYTHON  ?= python3
VENV    := plugins/cascadio/.venv
PY      := $(VENV)/bin/python
BIN     := bin
FUZZTIME ?= 5s

.PHONY: all build run test test-go test-python vet fuzz venv bench load proto clean ci-deps

all: build

## build: the partflow binary and the Go STL converter plugin
build:
	$(GO) build -o $(BIN)/partflow ./cmd/partflow
	$(GO) build -o $(BIN)/partflow-stl ./plugins/stl

## venv: the cascadio plugin's Python virtualenv (pinned versions)
venv: $(VENV)/.installed
$(VENV)/.installed: plugins/cascadio/pyproject.toml plugins/cascadio/requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r plugins/cascadio/requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -e plugins/cascadio
	touch $@

## run: serve on http://127.0.0.1:5000 with SQLite under ./data
run: build
	@$(MAKE) --no-print-directory venv || echo "partflow: cascadio plugin not set up; STEP conversion will answer 503"
	$(BIN)/partflow serve

## test: every test (Go, Python plugin, short fuzzing)
test: venv vet test-go test-python fuzz

vet:
	$(GO) vet ./...

test-go:
	PARTFLOW_TEST_CASCADIO_PYTHON=$(abspath $(PY)) $(GO) test -count=1 ./...

test-python: venv
	cd plugins/cascadio && .venv/bin/python -m pytest -q

## fuzz: run each fuzz target for $(FUZZTIME)
fuzz:
	@set -e; $(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg >/dev/null || { echo "FAIL fuzz $$pkg $$f"; exit 1; }; \
	  done; done

## bench: storage benchmarks (10k and 100k parts)
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=2s ./storage/bunstore

## proto: regenerate Go and Python stubs from convert/proto/converter.proto
proto:
	convert/proto/generate.sh

## ci-deps: system packages the tests use (Debian)
ci-deps:
	@command -v systemd-analyze >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null; }

clean:
	rm -rf $(BIN) $(VENV)
