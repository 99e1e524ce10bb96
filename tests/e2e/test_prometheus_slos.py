"""A real Prometheus scrapes the real mesh under a bounded load sent through the
gateway: every SLO recording rule and every dashboard query returns data, order
entry's latency histogram carries trace-id exemplars, and order entry failing
(the order service stopped) turns the fast-burn page alert pending or firing.

Prometheus runs a TEST-ONLY variant of the generated rules with every window
and `for` divided by 60 (the 1h/5m page becomes 1m/5s): the committed rules'
timing is proven by `promtool test rules` instead.
"""

import asyncio
import contextlib
import json
import re
import time
from pathlib import Path

import httpx
import pytest
import yaml

from tests.conftest import PASSWORD, Trader
from trademesh_devstack.prometheus import Prometheus
from trademesh_observability import dashboards
from trademesh_observability.generate import DASHBOARDS_DIR, find_root, write_scaled_rules
from trademesh_observability.slo import load_all

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = find_root()
TIME_SCALE = 60
RATE_WINDOW = "15s"  # stands in for Grafana's $__rate_interval at a 1s scrape interval
MAX_LOAD_ROUNDS = 600
MAX_LOAD_SECONDS = 240.0  # within the access tokens' 5 minutes, renewed by the logins anyway
LOGIN_EVERY_ROUNDS = 3
DATA_DEADLINE_SECONDS = 90.0
ALERT_DEADLINE_SECONDS = 60.0
FAST_BURN = 'ALERTS{alertname="OrderEntryAvailabilityBurnRatePage",long_window="1h"}'


async def _log_in(trader: Trader, password: str, statuses: dict[str, int]) -> None:
    """One login attempt; a successful one's tokens serve the trader's later calls."""
    with contextlib.suppress(httpx.HTTPError):
        response = await trader.http.post(
            "/auth/login", json={"username": trader.username, "password": password}
        )
        key = f"login {response.status_code}"
        statuses[key] = statuses.get(key, 0) + 1
        if response.status_code == 200:
            trader.use_tokens(response.json())


async def _load(gateway_url: str, stop: asyncio.Event) -> dict[str, int]:
    """Crossing orders, a resting order, refused orders, market data reads and logins
    (right and wrong passwords), until `stop` or the bounds. Answers are counted, not
    asserted: the fault makes orders fail."""
    statuses: dict[str, int] = {}
    seller, buyer = Trader(gateway_url, "prom-seller"), Trader(gateway_url, "prom-buyer")
    orders = [
        (
            seller,
            {"symbol": "KO", "side": "sell", "type": "limit", "quantity": 1, "price": "60.00"},
        ),
        (buyer, {"symbol": "KO", "side": "buy", "type": "limit", "quantity": 1, "price": "60.00"}),
        # Rests on the book (depth), far from the crossing price.
        (
            seller,
            {"symbol": "KO", "side": "sell", "type": "limit", "quantity": 1, "price": "62.00"},
        ),
        # Refused by order entry: outside the price band.
        (buyer, {"symbol": "KO", "side": "buy", "type": "limit", "quantity": 1, "price": "600.00"}),
    ]
    started = time.monotonic()
    try:
        for trader in (seller, buyer):
            await trader.sign_up()
        for round_number in range(MAX_LOAD_ROUNDS):
            if stop.is_set() or time.monotonic() - started > MAX_LOAD_SECONDS:
                break
            for trader, order in orders:
                with contextlib.suppress(httpx.HTTPError):
                    response = await trader.http.post("/orders", json=order)
                    statuses[str(response.status_code)] = (
                        statuses.get(str(response.status_code), 0) + 1
                    )
            for view in ("book", "quote"):
                with contextlib.suppress(httpx.HTTPError):
                    await buyer.http.get(f"/market/KO/{view}")
            if round_number % LOGIN_EVERY_ROUNDS == 0:
                trader = (seller, buyer)[round_number // LOGIN_EVERY_ROUNDS % 2]
                await _log_in(trader, PASSWORD, statuses)
                await _log_in(trader, "not the password", statuses)
            await asyncio.sleep(0.2)
    finally:
        for trader in (seller, buyer):
            await trader.close()
    return statuses


async def _wait_until_order_entry_answers(gateway_url: str) -> None:
    """The gateway's channel to a restarted order service reconnects after a backoff:
    leave the session's mesh as the next test expects it."""
    probe = Trader(gateway_url, "prom-probe")
    try:
        await probe.sign_up()
        deadline = time.monotonic() + ALERT_DEADLINE_SECONDS
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await probe.http.get("/orders")).status_code == 200:
                    return
            await asyncio.sleep(0.5)
    finally:
        await probe.close()
    raise AssertionError("order entry did not come back after the fault")


def _live_recordings() -> list[str]:
    queries = []
    for spec in load_all(ROOT / "observability/slos"):
        if spec.status != "live":
            continue  # its service does not exist yet: no data
        rules = yaml.safe_load(
            (ROOT / "observability/rules" / f"{spec.name}.rules.yaml").read_text()
        )
        for rule in rules["groups"][0]["rules"]:
            if "record" in rule:
                queries.append(f'{rule["record"]}{{slo="{spec.name}"}}')
    return queries


def _dashboard_queries() -> list[str]:
    queries = []
    for path in sorted((ROOT / DASHBOARDS_DIR).glob("*.json")):
        for expr in dashboards.queries(json.loads(path.read_text())):
            if any(prefix in expr for prefix in dashboards.PLANNED_METRIC_PREFIXES):
                continue  # the operator exports these once it exists
            windowed = expr.replace("$__rate_interval", RATE_WINDOW)
            queries.append(re.sub(r"\$(job|slo)\b", ".*", windowed))
    return queries


async def _wait_for_data(prometheus: Prometheus, queries: list[str]) -> list[str]:
    """The queries still without data when the deadline passes."""
    missing = list(queries)
    deadline = time.monotonic() + DATA_DEADLINE_SECONDS
    while missing and time.monotonic() < deadline:
        missing = [q for q in missing if not await asyncio.to_thread(prometheus.query, q)]
        if missing:
            await asyncio.sleep(1)
    return missing


@pytest.fixture
def prometheus(mesh, tmp_path: Path):
    rules = write_scaled_rules(ROOT, tmp_path / "rules", TIME_SCALE)
    targets = {name: f"127.0.0.1:{service.http_port}" for name, service in mesh.services.items()}
    server = Prometheus(tmp_path / "prometheus", targets, rules).start()
    yield server
    server.stop()


async def test_rules_and_dashboards_have_data_and_an_order_entry_fault_pages(mesh, prometheus):
    recordings, panels = _live_recordings(), _dashboard_queries()
    assert len(recordings) >= 4 * 11 and len(panels) >= 20

    stop = asyncio.Event()
    load = asyncio.create_task(_load(mesh.gateway_url, stop))
    try:
        missing = await _wait_for_data(prometheus, recordings + panels)
        assert not missing, f"no data for: {missing}"
        assert not await asyncio.to_thread(prometheus.query, FAST_BURN), "paging while healthy"

        now = time.time()
        exemplars = await asyncio.to_thread(
            prometheus.api,
            "query_exemplars",
            query="trademesh_order_order_to_fill_seconds_bucket",
            start=str(now - 300),
            end=str(now),
        )
        trace_ids = [e["labels"].get("trace_id") for s in exemplars for e in s["exemplars"]]
        assert trace_ids and all(re.fullmatch(r"[0-9a-f]{32}", t or "") for t in trace_ids)

        # The fault: order entry is gone; the gateway answers 503 to every order.
        mesh.services["order"].process.stop()
        deadline = time.monotonic() + ALERT_DEADLINE_SECONDS
        states: set[str] = set()
        while not states & {"pending", "firing"} and time.monotonic() < deadline:
            await asyncio.sleep(1)
            samples = await asyncio.to_thread(prometheus.query, FAST_BURN)
            states = {s["metric"]["alertstate"] for s in samples}
        assert states & {"pending", "firing"}, "the fast-burn page never started"
    finally:
        stop.set()
        statuses = await load
        if not mesh.services["order"].process.alive():
            mesh.start_service("order")
            await _wait_until_order_entry_answers(mesh.gateway_url)
    assert statuses.get("202", 0) > 0 and statuses.get("503", 0) > 0, statuses
    assert statuses.get("login 200", 0) > 0 and statuses.get("login 401", 0) > 0, statuses
