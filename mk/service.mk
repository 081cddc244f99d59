# Makefile fragment for the service (service/): included by the root Makefile.
#
#   make service-build   static binaries, built once (--target x86_64-unknown-linux-gnu, +crt-static)
#   make service-test    API tests (SQLite + PostgreSQL), image tests (podman), compose
#                        validation, hadolint, browser test — all on the service-build binaries
#   make bench-service   wrk benchmark against 127.0.0.1 (not part of `make test`)
#   make run             api + frontend locally on SQLite; Ctrl-C stops both
#
# SERVICE_PROFILE=dev gives a faster debug build; CARGO_TARGET_DIR is respected.

CARGO ?= cargo
SERVICE_TARGET := x86_64-unknown-linux-gnu
SERVICE_PROFILE ?= release
SERVICE_TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
SERVICE_BIN_DIR := $(abspath $(SERVICE_TARGET_DIR)/$(SERVICE_TARGET)/$(if $(filter dev test,$(SERVICE_PROFILE)),debug,$(SERVICE_PROFILE)))
# The static flag only reaches the target crates: with an explicit --target,
# RUSTFLAGS do not apply to build scripts and proc-macros.
SERVICE_RUSTFLAGS := $(strip $(RUSTFLAGS) -C target-feature=+crt-static)
SERVICE_CARGO := RUSTFLAGS="$(SERVICE_RUSTFLAGS)" $(CARGO)
SERVICE_CARGO_ARGS := -p service --target $(SERVICE_TARGET) --profile $(SERVICE_PROFILE)
SERVICE_TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/service_test
SERVICE_TEST_IMAGES ?= 1
SERVICE_TEST_BROWSER ?= 1
SERVICE_HADOLINT ?= $(firstword $(wildcard $(CURDIR)/.venv/bin/hadolint) hadolint)
SERVICE_OUT := $(CURDIR)/service/target-test-output
# PostgreSQL tests that must have run (markers written by service/tests/api.rs)
SERVICE_PG_TESTS := 9

.PHONY: service-build service-test service-lint service-image-context bench-service run

service-build:
	$(SERVICE_CARGO) build $(SERVICE_CARGO_ARGS) --bins
	@echo "static binaries: $(SERVICE_BIN_DIR)/api $(SERVICE_BIN_DIR)/frontend"

service-lint:
	$(SERVICE_HADOLINT) --config $(CURDIR)/.hadolint.yaml service/Dockerfile.api service/Dockerfile.frontend

service-test: service-build service-lint
	rm -rf $(SERVICE_OUT)/pg-ran
	SERVICE_TEST_DATABASE_URL="$(SERVICE_TEST_DATABASE_URL)" \
	SERVICE_BIN_DIR="$(SERVICE_BIN_DIR)" \
	SERVICE_TEST_IMAGES="$(SERVICE_TEST_IMAGES)" \
	SERVICE_TEST_BROWSER="$(SERVICE_TEST_BROWSER)" \
	$(SERVICE_CARGO) test $(SERVICE_CARGO_ARGS)
	@n=$$(ls $(SERVICE_OUT)/pg-ran 2>/dev/null | wc -l); \
	if [ "$$n" -ne $(SERVICE_PG_TESTS) ]; then \
	  echo "service-test: only $$n of $(SERVICE_PG_TESTS) PostgreSQL tests ran" >&2; exit 1; \
	fi; echo "service-test: all $$n PostgreSQL tests ran"

# Build contexts for docker compose / docker build: binary + Dockerfile (+ data/).
service-image-context: service-build
	rm -rf service/target-image
	mkdir -p service/target-image/api/data service/target-image/frontend
	cp $(SERVICE_BIN_DIR)/api service/Dockerfile.api service/target-image/api/
	cp $(SERVICE_BIN_DIR)/frontend service/Dockerfile.frontend service/target-image/frontend/
	@echo "contexts ready: docker compose up --build  (or podman build -f Dockerfile.api service/target-image/api)"

bench-service: service-build
	bash service/scripts/bench.sh $(SERVICE_BIN_DIR)/api

run: service-build
	bash service/scripts/run-local.sh $(SERVICE_BIN_DIR)
