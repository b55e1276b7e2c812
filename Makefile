# deltalog — run `make` for the list of targets.

SHELL := /bin/bash
GO ?= go
BIN := bin/deltalog
DATA ?= ../shared/data/debian

# Real Debian archive indexes: each suite is a repository, its -updates and
# -security indexes are overlays applied on top of it.
BOOKWORM  := $(wildcard $(DATA)/debian-bookworm-main-Sources-*.xz)
BOOKWORM_OVERLAYS := $(wildcard $(DATA)/debian-bookworm-updates-main-Sources-*.xz) $(wildcard $(DATA)/debian-bookworm-security-main-Sources-*.xz)
TRIXIE    := $(wildcard $(DATA)/debian-trixie-main-Sources-*.xz)
TRIXIE_OVERLAYS := $(wildcard $(DATA)/debian-trixie-updates-main-Sources-*.xz) $(wildcard $(DATA)/debian-trixie-security-main-Sources-*.xz)

.DEFAULT_GOAL := help

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## install PostgreSQL server binaries and dpkg (the tests check the Debian order against it) if missing
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v pg_config >/dev/null 2>&1; then \
		echo "PostgreSQL server binaries found"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing PostgreSQL from the OS packages"; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	else \
		echo "no PostgreSQL server binaries: install PostgreSQL 14+ (dnf install postgresql-server, brew install postgresql) or set DATABASE_URL" >&2; exit 1; \
	fi; \
	if command -v dpkg >/dev/null 2>&1; then \
		echo "dpkg found"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing dpkg"; \
		$$SUDO apt-get install -y -qq dpkg >/dev/null; \
	else \
		echo "no dpkg: the tests that compare the Debian order with dpkg --compare-versions will be skipped (dnf install dpkg, brew install dpkg)"; \
	fi

deps-browser: ## install Chromium (Debian package chromium) for the dashboard's browser test
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || command -v google-chrome >/dev/null 2>&1; then \
		echo "Chromium found"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "installing Chromium from the OS packages"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "no Chromium: install Chromium or Chrome (dnf install chromium, brew install --cask chromium); the browser test skips without one" >&2; exit 1; \
	fi

build: ## build bin/deltalog
	$(GO) build -o $(BIN) ./cmd/deltalog

demo: deps build ## ingest the real Debian data into the managed PostgreSQL and print the summaries
	@test -n "$(BOOKWORM)" || { echo "no Debian data under $(DATA)" >&2; exit 1; }
	@echo "== bookworm Sources"
	$(BIN) update --repo debian_12 --format debian-sources --project $(BOOKWORM)
	@echo "== bookworm + -updates + -security overlays"
	$(BIN) update --repo debian_12 --format debian-sources --project $(BOOKWORM) $(BOOKWORM_OVERLAYS)
	@echo "== the same snapshot again: nothing changes, nothing is written"
	$(BIN) update --repo debian_12 --format debian-sources --project $(BOOKWORM) $(BOOKWORM_OVERLAYS)
	@echo "== trixie + overlays as a second repository"
	$(BIN) update --repo debian_13 --format debian-sources --project $(TRIXIE) $(TRIXIE_OVERLAYS)
	@echo "== status"
	$(BIN) status
	@echo "== what the projections derived: the most widely packaged projects, and recent history"
	@psql -X -q "$$($(BIN) db url)" -c "SELECT name, num_repos, num_packages, newest_version, num_updates FROM projects ORDER BY num_repos DESC, num_packages DESC, name LIMIT 5" \
		-c "SELECT project, kind, old_version, new_version, direction, seq FROM project_history WHERE kind = 'version_update' ORDER BY seq DESC LIMIT 5" 2>/dev/null || true
	@echo "== the last two events"
	$(BIN) tail --from $$($(BIN) status --json | sed -n 's/.*"head_seq": \([0-9]*\).*/\1/p' | awk '{print $$1-2}') | cut -c1-300

# The tests share one PostgreSQL cluster per checkout (see
# internal/pg/dbtest), started by the first test process that needs it and
# left running between `go test` runs so that re-runs start at once. `make
# test` stops it when it ends, passed, failed or interrupted (the trap); a
# cluster left by a run that was killed is reused by the next one, which
# stops it in turn.
test: deps ## vet, lint, run the tests (they start their own PostgreSQL), then the race run: what CI runs; stops the test cluster after
	@trap '$(MAKE) --no-print-directory test-db-stop' EXIT; \
	set -e; \
	echo "$(GO) vet ./..."; $(GO) vet ./...; \
	$(MAKE) --no-print-directory lint; \
	echo "$(GO) test -count=1 -timeout 30m ./..."; $(GO) test -count=1 -timeout 30m ./...; \
	$(MAKE) --no-print-directory race

# This checkout's test cluster: under .deltalog/test-cluster, or, as root
# with a checkout the postgres user cannot reach, under $TMPDIR named by a
# hash of the checkout's path (dbtest's testCluster).
TEST_CLUSTERS = .deltalog/test-cluster $${TMPDIR:-/tmp}/deltalog-test-$$(printf %s "$(CURDIR)" | sha256sum | cut -c1-12)

test-db-stop: ## stop this checkout's test cluster, if one runs
	@for h in $(TEST_CLUSTERS); do \
		if [ -f "$$h/pgdata/postmaster.pid" ]; then echo "stopping the test cluster in $$h"; DELTALOG_HOME=$$h $(GO) run ./cmd/deltalog db stop || true; fi; \
	done

# The packages that run goroutines of their own, tested again under the race
# detector. It makes their tests several times slower (the real-data
# sequences of projections most), hence the longer timeout and not the whole
# tree.
RACE_PKGS := ./changelog ./projections ./replay

# The race run looks for data races in the concurrent packages, not for
# coverage of the real data: DELTALOG_SHORT leaves out the PyPI step of the
# real-data sequence, which the plain run above covers.
race: deps ## run the tests of the concurrent packages (changelog, projections, replay) under the race detector
	DELTALOG_SHORT=1 $(GO) test -race -count=1 -timeout 45m $(RACE_PKGS)

# staticcheck at a pinned version, installed on first use into bin/ (its
# checks are configured in staticcheck.conf).
STATICCHECK_VERSION := v0.8.2
STATICCHECK := bin/tools/staticcheck-$(STATICCHECK_VERSION)/staticcheck

$(STATICCHECK):
	GOBIN=$(CURDIR)/$(dir $@) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: $(STATICCHECK) ## run staticcheck (installed at a pinned version on first use)
	$(STATICCHECK) ./...

# make bench's scale: see the README's performance section for why not the
# 1M packages of `deltalog bench` (the full run) — it takes about 12 minutes.
BENCH_FLAGS ?= --packages 100000 $(if $(BOOKWORM),--debian $(DATA))

bench: deps build ## deltalog vs full recompute, materialized views and COPY, side by side (100k packages; set BENCH_FLAGS)
	$(BIN) bench $(BENCH_FLAGS)

# make soak's flags: `deltalog soak --help` lists them (the default run is
# 10 minutes; SOAK_FLAGS=--duration 2m for a shorter one).
SOAK_FLAGS ?=

soak: deps build ## run deltalog under SIGKILLs and PostgreSQL restarts for 10 minutes on a cluster of its own, then check nothing was lost
	$(BIN) soak $(SOAK_FLAGS)

gobench: deps ## run the Go benchmarks of the hot paths
	$(GO) test -run '^$$' -bench . -benchtime 3x ./...

fuzz: ## fuzz every parser and decoder for FUZZTIME each (default 30s)
	@for f in $$(grep -rhoE '^func Fuzz[A-Za-z0-9]+' --include '*_test.go' . | sed 's/func //'); do \
		pkg=$$(grep -rlE "^func $$f\(" --include '*_test.go' . | head -1 | xargs dirname); \
		echo "== $$f ($$pkg)"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $${FUZZTIME:-30s} $$pkg || exit 1; \
	done

docs: ## regenerate the command reference in docs/ from the commands
	$(GO) test -count=1 ./cmd/deltalog -run '^TestDocsUpToDate$$' -args -update-docs

db-stop: ## stop the managed PostgreSQL clusters (demo and tests)
	-@[ -x $(BIN) ] && $(BIN) db stop
	-@for h in .deltalog/test-cluster .deltalog/soak $(wildcard /tmp/deltalog-test-* /tmp/deltalog-soak-*); do DELTALOG_HOME=$$h $(GO) run ./cmd/deltalog db stop 2>/dev/null; done

demo-pypi: build ## add the PyPI list (886k packages) as a third repository
	$(BIN) update --repo pypi --format tsv --version-scheme pypi --project ../shared/data/registries/pypi.tsv.xz

clean: db-stop ## stop the clusters and remove build output and the managed data
	rm -rf bin .deltalog

.PHONY: help deps deps-browser build demo demo-pypi test test-db-stop bench soak gobench fuzz docs race lint db-stop clean
