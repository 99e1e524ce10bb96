"""The operator's Prometheus metrics, served with /healthz and /readyz on the ops port."""

from __future__ import annotations

import contextlib

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

LABELS = ("namespace", "name")

LAG = Gauge("queue_autoscaler_lag", "Total counted consumer-group lag", LABELS)
SCALING_LAG = Gauge("queue_autoscaler_scaling_lag", "Lag that drives scaling (no stuck)", LABELS)
DESIRED = Gauge("queue_autoscaler_desired_replicas", "Replicas decided", LABELS)
CURRENT = Gauge("queue_autoscaler_current_replicas", "Replicas the target had", LABELS)
FALLBACK = Gauge("queue_autoscaler_fallback_active", "1 while fallback replicas apply", LABELS)
SCALES = Counter("queue_autoscaler_scales", "Scale patches made", ("direction",))
POLL_ERRORS = Counter("queue_autoscaler_poll_errors", "Polls that failed", ("reason",))
POLL_SECONDS = Histogram(
    "queue_autoscaler_poll_seconds",
    "One poll: read the target, read Kafka, decide, patch",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PER_OBJECT = (LAG, SCALING_LAG, DESIRED, CURRENT, FALLBACK)


def forget(namespace: str, name: str) -> None:
    """Drop a deleted QueueAutoscaler's series."""
    for gauge in PER_OBJECT:
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name)


async def _metrics(_: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _ok(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def start_ops_server(host: str, port: int) -> web.AppRunner:
    """/healthz, /readyz and /metrics (the project's ops convention)."""
    app = web.Application()
    app.add_routes(
        [web.get("/metrics", _metrics), web.get("/healthz", _ok), web.get("/readyz", _ok)]
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
