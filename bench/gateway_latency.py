"""Benchmark (c): gateway POST → fill on the WebSocket, at a fixed offered rate.

Starts the devstack and the mesh (gateway, order, matching as local
processes), then a maker and a taker: the maker rests a sell, the taker
crosses it, open-loop at `--rate` orders/s in total for `--seconds`. Reports
the taker's latency from sending its POST to receiving its fill on its
WebSocket, and the POST → 202 latency. Prints one JSON object.

    uv run python bench/gateway_latency.py [--rate 500] [--seconds 10]
"""

import argparse
import asyncio
import collections
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import websockets
from machine import group_cpu_seconds, machine  # bench/ is on sys.path when a script runs

from trademesh_devstack.mesh import Mesh
from trademesh_devstack.stack import DevStack

PRICE = "150.00"
IDLE_SECONDS = 3.0


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "p50_ms": at(0.50),
        "p90_ms": at(0.90),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
    }


async def access_token(base_url: str, username: str) -> str:
    """Registers `username` and logs in: the bearer token of a fresh account."""
    credentials = {"username": username, "password": "benchmark password"}
    async with httpx.AsyncClient(base_url=base_url + "/api/v1", timeout=10) as client:
        (await client.post("/auth/register", json=credentials)).raise_for_status()
        login = await client.post("/auth/login", json=credentials)
        login.raise_for_status()
        return login.json()["access_token"]


def cpu_sample(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each process group (a service, or a server of the stack)."""
    return {name: group_cpu_seconds(pid) for name, pid in pids.items()}


async def run(
    base_url: str, rate: float, seconds: float, pids: Callable[[], dict[str, int]]
) -> dict:
    tokens = {
        role: await access_token(base_url, f"bench-{role}-{uuid.uuid4().hex[:6]}")
        for role in ("maker", "taker")
    }
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    clients = {
        role: httpx.AsyncClient(
            base_url=base_url + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            limits=limits,
            timeout=10,
        )
        for role, token in tokens.items()
    }
    fill_seen: dict[str, float] = {}
    ws_url = base_url.replace("http://", "ws://") + "/api/v1/ws"
    taker_ws = await websockets.connect(ws_url, subprotocols=["bearer", tokens["taker"]])
    await taker_ws.recv()  # hello: the subscription is live

    async def read_fills() -> None:
        async for raw in taker_ws:
            message = json.loads(raw)
            if message["type"] == "fill":
                fill_seen.setdefault(message["fill"]["order_id"], time.perf_counter())

    reader = asyncio.create_task(read_fills())
    sent_at: dict[str, float] = {}
    accept_latency: list[float] = []
    errors: collections.Counter[str] = collections.Counter()

    async def place(role: str, side: str) -> None:
        started = time.perf_counter()
        try:
            response = await clients[role].post(
                "/orders",
                json={
                    "symbol": "AAPL",
                    "side": side,
                    "type": "limit",
                    "quantity": 1,
                    "price": PRICE,
                },
            )
        except httpx.HTTPError as exc:
            errors[type(exc).__name__] += 1
            return
        if response.status_code != 202:
            errors[str(response.status_code)] += 1
            return
        accept_latency.append(time.perf_counter() - started)
        if role == "taker":
            sent_at[response.json()["order_id"]] = started

    # Open loop: requests leave on schedule whether or not earlier ones have finished.
    pairs = int(rate * seconds / 2)
    interval = 2 / rate
    tasks = []
    # What the processes burn with no orders (Kafka pollers, the broker's own work) is
    # measured first and reported, and subtracted in the net figures.
    idle_before = cpu_sample(pids())
    await asyncio.sleep(IDLE_SECONDS)
    idle = {name: used - idle_before[name] for name, used in cpu_sample(pids()).items()}
    cpu_before = cpu_sample(pids())
    load_before = os.getloadavg()
    begin = time.perf_counter()
    for n in range(pairs):
        delay = begin + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(place("maker", "sell")))
        await asyncio.sleep(interval / 2)
        tasks.append(asyncio.create_task(place("taker", "buy")))
    await asyncio.gather(*tasks)
    offered_seconds = time.perf_counter() - begin
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not set(sent_at) <= set(fill_seen):
        await asyncio.sleep(0.1)
    cpu_after = cpu_sample(pids())
    measured_seconds = time.perf_counter() - begin
    load_after = os.getloadavg()
    reader.cancel()
    await taker_ws.close()
    for client in clients.values():
        await client.aclose()

    fill_latency = [fill_seen[o] - t for o, t in sent_at.items() if o in fill_seen]
    return {
        "offered_orders_per_second": rate,
        "achieved_orders_per_second": round(2 * pairs / offered_seconds, 1),
        "orders": 2 * pairs,
        "errors": sum(errors.values()),
        "errors_by_kind": dict(errors),
        "fills_received": len(fill_latency),
        "fills_missing": len(sent_at) - len(fill_latency),
        "post_to_fill_on_websocket": percentiles(fill_latency),
        "post_to_202": percentiles(accept_latency),
        # CPU per order offered, in ms, over the load and the wait for the last fills.
        # The WebSocket wait polls every 0.1 s, so idle services add a little.
        "cpu_ms_per_order": {
            name: round((cpu_after[name] - cpu_before[name]) * 1000 / (2 * pairs), 3)
            for name in cpu_before
        },
        "idle_cpu_ms_per_second": {
            name: round(used * 1000 / IDLE_SECONDS, 1) for name, used in idle.items()
        },
        "cpu_ms_per_order_net_of_idle": {
            name: round(
                (cpu_after[name] - cpu_before[name] - idle[name] / IDLE_SECONDS * measured_seconds)
                * 1000
                / (2 * pairs),
                3,
            )
            for name in cpu_before
        },
        "loadavg_before_after": [
            [round(x, 2) for x in load_before],
            [round(x, 2) for x in load_after],
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with DevStack() as stack, tempfile.TemporaryDirectory() as tmp:
        mesh = Mesh(
            stack,
            Path(tmp),
            extra_env={
                "order": {"TRADEMESH_PAPER_STARTING_POSITIONS": "AAPL:1000000"},
                "matching": {"TRADEMESH_LOG_LEVEL": "WARNING"},
                # Bench accounts only: the cheapest argon2id the auth service accepts, so
                # registering the two users does not load the machine before the run. The
                # service's default (3 passes, 64 MiB) is untouched.
                "auth": {"TRADEMESH_ARGON2_TIME_COST": "1", "TRADEMESH_ARGON2_MEMORY_KIB": "8192"},
                # Two users carry the whole offered load: lift the per-user limit for them.
                "gateway": {
                    "TRADEMESH_LOG_LEVEL": "WARNING",
                    "TRADEMESH_RATE_LIMIT_PER_USER": "100000000",
                },
            },
        )
        try:
            mesh.start()

            def pids() -> dict[str, int]:
                found = {
                    name: service.process.pid
                    for name, service in mesh.services.items()
                    if service.process is not None and service.process.pid is not None
                }
                return {**found, **stack.pids()}

            result = asyncio.run(run(mesh.gateway_url, args.rate, args.seconds, pids))
        finally:
            mesh.stop()
    print(json.dumps({"benchmark": "gateway_latency", **result, "machine": machine()}))


if __name__ == "__main__":
    main()
