# The two commands of the quick start are `make run` and `make test`; the rest
# are the pieces they are made of, for the inner loop.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := uv run --frozen

.PHONY: run test bootstrap proto lint unit integration kube bench

run: bootstrap ## Start Redis, PostgreSQL, Kafka and every service on loopback; print the gateway URL
	$(UV) python -m trademesh_devstack mesh

test: bootstrap lint ## Every test tier (installs what it needs)
	$(UV) python -m trademesh_devstack install
	$(UV) pytest

bootstrap:
	@scripts/bootstrap

proto: bootstrap

lint: bootstrap
	$(UV) ruff check .
	$(UV) ruff format --check .

unit: bootstrap
	$(UV) pytest -m "not integration and not kube"

integration: bootstrap
	$(UV) pytest -m integration

kube: bootstrap ## Tests against a real kube-apiserver + etcd (builds them once, cached)
	$(UV) python -m trademesh_devstack install
	$(UV) pytest -m kube

bench: bootstrap ## Benchmarks; each prints one JSON object
	$(UV) python bench/book_core.py
	$(UV) python bench/matching_kafka.py
	$(UV) python bench/gateway_latency.py
	$(UV) python bench/operator_reaction.py
	$(UV) python bench/operator_footprint.py
