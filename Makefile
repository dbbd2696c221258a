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

.PHONY: all build run test test-go test-postgres test-python vet fuzz venv bench load proto clean ci-deps pg-deps faults

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

## test: every test (Go on SQLite and PostgreSQL, Python plugin, short fuzzing)
test: venv vet pg-deps test-go test-postgres test-python fuzz

vet:
	$(GO) vet ./...

test-go:
	PARTFLOW_TEST_CASCADIO_PYTHON=$(abspath $(PY)) $(GO) test -count=1 ./...

## test-postgres: the HTTP suite again, each test on a new PostgreSQL
## database (the store's own tests run on both engines in test-go)
test-postgres:
	PARTFLOW_TEST_ENGINE=postgres $(GO) test -count=1 ./httpapi/

## pg-deps: PostgreSQL server binaries for the tests (Debian's postgresql
## package; installed when missing and running as root, else explained)
pg-deps:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || [ -n "$$PARTFLOW_PG_BIN" ] || \
	  { if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	    else echo "partflow: PostgreSQL binaries not found: install Debian's postgresql package (sudo apt-get install postgresql) or set PARTFLOW_PG_BIN; the PostgreSQL tests will skip"; fi; }

test-python: venv
	cd plugins/cascadio && .venv/bin/python -m pytest -q

## fuzz: run each fuzz target for $(FUZZTIME)
fuzz:
	@set -e; $(GO) list -f '{{.ImportPath}} {{.Dir}}' ./... | while read pkg dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/^func //'); do \
	    echo "fuzz $$pkg $$f ($(FUZZTIME))"; \
	    out=$$(mktemp); \
	    if ! $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg >$$out 2>&1; then \
	      tail -n 30 $$out; \
	      if grep -q 'Failing input written to' $$out; then echo "FAIL fuzz $$pkg $$f"; rm -f $$out; exit 1; fi; \
	      echo "fuzz $$pkg $$f: the fuzzing engine failed without a failing input (above); once more"; \
	      $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) $$pkg >$$out 2>&1 || { tail -n 30 $$out; echo "FAIL fuzz $$pkg $$f"; rm -f $$out; exit 1; }; \
	    fi; rm -f $$out; \
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
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

clean:
	rm -rf $(BIN) $(VENV)

## faults: the fault-injection suite (real binary: kill -9 and SIGTERM under
## write load, a full file store on a tmpfs); prints FAULTS lines with its
## figures (writes acknowledged and lost, files leaked, 5xx seen)
faults:
	$(GO) test -tags faults -run '^TestFaults$$' -count=1 -v -timeout 5m ./cmd/partflow/
