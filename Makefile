# Sluice: two commands do everything on a fresh machine.
#   make run   — install what is missing, start NATS (unless NATS_URL answers), run `sluice up`
#   make test  — install what is missing, typecheck, run every unit and integration test
#   make bench — run the benchmarks under bench/ (never part of make test)

SHELL := /bin/bash
NATS_URL ?= nats://127.0.0.1:4222
export NATS_URL

.PHONY: run test bench deps nats-server chromium postfix dnsmasq typecheck unit integration clean

deps: node_modules/.sluice-installed

node_modules/.sluice-installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

nats-server:
	@bash scripts/ensure-nats-server.sh

# The dashboard test drives Debian's chromium headless.
chromium:
	@bash scripts/ensure-chromium.sh

# The throttling tests run real Postfix instances (anvil limits) as destinations; the bench uses its smtp-sink.
postfix:
	@bash scripts/ensure-postfix.sh

# The sender-domain tests run a real DNS server (dnsmasq) serving the records they publish.
dnsmasq:
	@bash scripts/ensure-dnsmasq.sh

typecheck: deps
	npx tsc --noEmit -p .

run: deps nats-server
	@bash scripts/run.sh

# Unit and condition-waiting integration files two at a time, then the files that measure
# rates and timing one at a time (scripts/test.sh says which and why).
test: deps nats-server chromium postfix dnsmasq typecheck
	@bash scripts/test.sh
	@bash scripts/check-test-leftovers.sh

unit: deps
	node --import tsx --test $$(find test/unit -name '*.test.ts' | sort)

integration: deps nats-server chromium postfix dnsmasq
	node --import tsx --test --test-concurrency=1 $$(find test/integration -name '*.test.ts' | sort)

bench: deps nats-server postfix
	@bash scripts/bench.sh

clean:
	rm -rf .data
