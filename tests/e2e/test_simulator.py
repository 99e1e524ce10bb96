"""The simulator's bots trade through the public API like any client, within their budget."""

import asyncio
import time

import httpx
import pytest

from trademesh_simulator.simulation import SimulationConfig, run_simulation

pytestmark = pytest.mark.integration

SYMBOL = "JPM"


async def day_volume(base_url: str) -> int:
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=10) as client:
        response = await client.get(f"/market/{SYMBOL}/quote")
        assert response.status_code == 200, response.text
        return int(response.json()["volume"])


async def test_bots_make_a_market_and_trade_within_their_budget(mesh):
    volume_before = await day_volume(mesh.gateway_url)
    summary = await run_simulation(
        SimulationConfig(
            gateway_url=mesh.gateway_url,
            symbols=(SYMBOL,),
            market_makers=1,
            takers=2,
            taker_orders_per_second=10,
            max_orders=60,
            duration_seconds=8,
        )
    )

    assert 0 < summary["orders_placed"] <= 60
    assert summary["elapsed_seconds"] < 8 + 5  # the deadline holds, give or take one request
    assert not [status for status in summary["http_errors"] if status.startswith("5")]
    assert "p50" in summary["request_latency_ms"]
    # The takers' market orders met the maker's quotes: the exchange printed trades (the
    # market service sees them a moment later, through Kafka).
    deadline = time.monotonic() + 20
    while await day_volume(mesh.gateway_url) == volume_before and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    assert await day_volume(mesh.gateway_url) > volume_before
