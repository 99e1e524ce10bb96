# The two commands of the quick start are `make run` and `make test`; the rest
# are the pieces they are made of, for the inner loop.
SHELL := /bin/bash
export UV_PYTHON_DOWNLOADS := never
UV := uv run --frozen

.PHONY: run test bootstrap proto lint unit integration kube bench images observability

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
	$(UV) pytest -m "not integration and not kube and not images"

integration: bootstrap
	$(UV) pytest -m integration

kube: bootstrap ## Tests against a real kube-apiserver + etcd (builds them once, cached)
	$(UV) python -m trademesh_devstack install
	$(UV) pytest -m kube

images: bootstrap ## Every container image, with no registry (see docker/README.md)
	$(UV) python -m trademesh_devstack images

bench: bootstrap ## Benchmarks; each prints one JSON object
	$(UV) python bench/book_core.py
	$(UV) python bench/matching_kafka.py
	$(UV) python bench/gateway_latency.py
	$(UV) python bench/social_news.py
	$(UV) python bench/ws_fanout.py
	$(UV) python bench/token_verification.py
	$(UV) python bench/quote_reads.py
	$(UV) python bench/operator_reaction.py
	$(UV) python bench/operator_footprint.py

observability: bootstrap ## Regenerate SLO rules, their promtool tests and the dashboards
	$(UV) python -m trademesh_observability generate
