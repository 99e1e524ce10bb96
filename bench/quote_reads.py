"""Benchmark: quote reads through one gateway process, with a bearer token on every request.

Starts the devstack and the whole mesh (one process per service), signs a user up, trades
once so the quote has a last price, then drives `GET /api/v1/market/AAPL/quote` with wrk
(Debian's `wrk`, installed when missing) at a fixed number of connections for `--seconds`.
Each request crosses gateway → market (gRPC) → Redis. Prints one JSON object.

The machine is shared, so latency moves with its load; the CPU time the gateway and market
processes spend per request (user + system, from /proc/<pid>/stat around the measured run)
does not, and is reported next to it. The services also burn CPU while idle (Kafka pollers,
the event loop's timers): measured over a quiet interval before the run, that rate is
reported too, and subtracted in `cpu_ms_per_request_net`.

    uv run python bench/quote_reads.py [--connections 32] [--seconds 10]
"""

import argparse
import json
import re
import shutil
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from machine import cpu_seconds, machine  # bench/ is on sys.path when a script runs

from trademesh_devstack.mesh import Mesh
from trademesh_devstack.stack import DevStack

SYMBOL = "AAPL"
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, capture_output=True)
        found = shutil.which("wrk")
    assert found is not None
    return found


def sign_up_and_trade(base_url: str) -> str:
    """A fresh account's access token, after one crossing trade gives the quote a last price."""
    credentials = {"username": f"bench-{uuid.uuid4().hex[:8]}", "password": "benchmark password"}
    with httpx.Client(base_url=base_url + "/api/v1", timeout=10) as client:
        client.post("/auth/register", json=credentials).raise_for_status()
        login = client.post("/auth/login", json=credentials)
        login.raise_for_status()
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        for side in ("sell", "buy"):
            order = {"symbol": SYMBOL, "side": side, "type": "limit", "quantity": 1}
            order["price"] = "150.00"
            client.post("/orders", json=order, headers=headers).raise_for_status()
        client.get(f"/market/{SYMBOL}/quote", headers=headers).raise_for_status()
        return token


_CPU_PROCESSES = ("gateway", "market")
_IDLE_SECONDS = 3.0


def service_pids(mesh: Mesh) -> dict[str, int]:
    pids = {}
    for name in _CPU_PROCESSES:
        process = mesh.services[name].process
        assert process is not None and process.pid is not None
        pids[name] = process.pid
    return pids


def _to_ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    if match is None:
        raise ValueError(f"unexpected wrk latency: {value!r}")
    number, unit = match.groups()
    return round(float(number) * _UNIT_MS[unit], 3)


def parse_wrk(output: str) -> dict[str, Any]:
    """The figures from `wrk --latency` output."""
    percentiles = {
        f"p{int(float(q))}_ms": _to_ms(v)
        for q, v in re.findall(r"^\s+(50|75|90|99)(?:\.0+)?%\s+(\S+)$", output, re.MULTILINE)
    }
    requests = re.search(r"(\d+) requests in", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if requests is None or rate is None:
        raise ValueError(f"unexpected wrk output: {output!r}")
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)$", output, re.MULTILINE)
    return {
        "requests": int(requests.group(1)),
        "requests_per_second": float(rate.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else None,
        "latency": percentiles,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    wrk = ensure_wrk()
    with DevStack() as stack, tempfile.TemporaryDirectory() as tmp:
        quiet = {"TRADEMESH_LOG_LEVEL": "WARNING"}
        mesh = Mesh(
            stack,
            Path(tmp),
            extra_env={
                "order": {**quiet, "TRADEMESH_PAPER_STARTING_POSITIONS": f"{SYMBOL}:1000"},
                "matching": quiet,
                "market": quiet,
                # One user carries the whole load: lift the per-user limit for it.
                "gateway": {**quiet, "TRADEMESH_RATE_LIMIT_PER_USER": "100000000"},
            },
        )
        try:
            mesh.start()
            token = sign_up_and_trade(mesh.gateway_url)
            url = f"{mesh.gateway_url}/api/v1/market/{SYMBOL}/quote"
            command = [wrk, "-t1", f"-c{args.connections}", f"-d{args.seconds}s", "--latency"]
            command += ["-H", f"Authorization: Bearer {token}", url]
            warm_up = [*command[:3], "-d2s", *command[4:]]
            subprocess.run(warm_up, check=True, capture_output=True)
            pids = service_pids(mesh)
            idle_start = {name: cpu_seconds(pid) for name, pid in pids.items()}
            time.sleep(_IDLE_SECONDS)
            idle = {name: cpu_seconds(pid) - idle_start[name] for name, pid in pids.items()}
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            cpu_used = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
        finally:
            mesh.stop()
    figures = parse_wrk(output)
    requests = max(1, figures["requests"])
    result = {
        "benchmark": "quote_reads",
        "route": f"GET /api/v1/market/{SYMBOL}/quote",
        "gateway_processes": 1,
        "connections": args.connections,
        "seconds": args.seconds,
        **figures,
        "cpu_ms_per_request": {
            **{name: round(used * 1000 / requests, 3) for name, used in cpu_used.items()},
            "total": round(sum(cpu_used.values()) * 1000 / requests, 3),
        },
        "idle_cpu_ms_per_second": {
            name: round(used * 1000 / _IDLE_SECONDS, 1) for name, used in idle.items()
        },
        "cpu_ms_per_request_net": {
            name: round((used - idle[name] / _IDLE_SECONDS * args.seconds) * 1000 / requests, 3)
            for name, used in cpu_used.items()
        },
        "machine": machine(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
