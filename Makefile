# The two commands that must work on a fresh machine with Rust and Python 3:
#   make demo   - plan, apply, re-plan (no changes), outputs and destroy of examples/network on a local AWS emulator
#   make test   - every test: unit, the CLI against the emulator, state backends, the service (see mk/service.mk)
CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: demo test test-provisioner build bench lint moto clean workflow-lint smoke-local
.DEFAULT_GOAL := help

help:
	@echo "make demo   - run the provisioner end to end against the local AWS emulator (scripts/emulator)"
	@echo "make test   - run every test"
	@echo "make bench  - provisioner benchmarks (validate/plan/apply of 100 and 1,000 resources)"
	@echo "make run    - start the service (api + frontend) locally on SQLite"

# Installs the local AWS emulator's pinned moto (scripts/emulator does it on first use too).
moto:
	bash .ci/moto.sh

build:
	$(CARGO) build -p provisioner --bin provisioner

demo: moto build
	bash scripts/demo.sh

test-provisioner: moto
	$(CARGO) test -p state -p provisioner -p faultproxy --no-fail-fast

test: test-provisioner service-test workflow-lint smoke-local

# The GitHub Actions workflows: actionlint, zizmor and shellcheck, pinned, installed on first use (.ci/workflow-lint.sh).
workflow-lint:
	bash .ci/workflow-lint.sh

# The deploy's smoke test (scripts/smoke.sh) against the api and frontend built here, on SQLite and free ports.
smoke-local: service-build
	bash scripts/smoke-local.sh $(SERVICE_BIN_DIR)

bench: moto
	bash bench/run.sh

# Crash-safety soak: SIGKILL apply of plans/hello at random moments, re-apply, check (SOAK_TRIALS, SOAK_SEED).
.PHONY: soak
soak: moto
	bash scripts/soak.sh

lint:
	$(CARGO) clippy --workspace --all-targets

-include mk/service.mk
