"""kopf handlers. Only the QueueAutoscaler is watched; the target workload is read and patched
through its /scale subresource and never carries a finalizer, annotation or label. Deleting a
QueueAutoscaler runs no clean-up: its timer stops and the workload keeps its replica count.
(kopf puts its own finalizer on the CR for that: without it a timer outlives its object.)"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
import os
import random
import time
from typing import Any

import kopf

from . import GROUP, PLURAL, VERSION, metrics
from .decision import Decision, History, decide, decide_unreachable
from .kafka_lag import AdminPool, LagReadError, admin_config, read_offsets
from .kube import KubeClient, KubeError
from .spec import Spec, parse_spec

# The timer ticks often and each CR polls Kafka only every spec.pollIntervalSeconds: kopf's
# timer interval is fixed at import, the poll interval is per object.
TICK_SECONDS = float(os.environ.get("TRADEMESH_QAS_TICK_SECONDS", "1"))
SECRET_TTL_SECONDS = 60.0


@dataclasses.dataclass
class Runtime:
    """What the handlers share for one operator run."""

    credentials: kopf.ConnectionInfo | None = None
    kube: KubeClient | None = None
    kafka: AdminPool = dataclasses.field(default_factory=AdminPool)
    secrets: dict[tuple[str, str], tuple[float, dict[str, str]]] = dataclasses.field(
        default_factory=dict
    )
    ops: Any = None

    def client(self) -> KubeClient:
        if self.kube is None:
            if self.credentials is None:
                raise kopf.TemporaryError("not logged in to the API server yet", delay=1)
            self.kube = KubeClient(self.credentials)
        return self.kube


RUNTIME = Runtime()


@dataclasses.dataclass
class PollState:
    """Per-CR memory between ticks (kopf keeps one memo per object)."""

    next_poll: float = 0.0
    history: History = dataclasses.field(default_factory=History)


@kopf.on.login()
async def login(
    settings: kopf.OperatorSettings, logger: logging.Logger, **_: Any
) -> kopf.ConnectionInfo | None:
    """kopf's own login (in-cluster service account, else $KUBECONFIG), shared with our client;
    kopf calls it again when the credentials stop working, and so our client is renewed."""
    info = kopf.login_with_service_account(
        settings=settings, logger=logger
    ) or kopf.login_with_kubeconfig(settings=settings, logger=logger)
    RUNTIME.credentials = info
    if RUNTIME.kube is not None:
        await RUNTIME.kube.close()
        RUNTIME.kube = None
    return info


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
    global RUNTIME  # noqa: PLW0603 - one runtime per operator run (tests run several)
    RUNTIME = Runtime(credentials=RUNTIME.credentials)
    # Handler logs would otherwise become a Kubernetes Event per timer tick; the operator
    # posts its own Events for the things that matter (every scale, fallback).
    settings.posting.level = logging.WARNING
    # Two replicas with equal priority would both pause; a random one lets one win.
    # An explicit `--priority` (kopf's CLI) is kept.
    if settings.peering.priority == 0:
        settings.peering.priority = random.randint(1, 1_000_000)
    # How long a replica that died without a word still counts as a peer: the failover time.
    settings.peering.lifetime = int(
        os.environ.get("TRADEMESH_QAS_PEERING_LIFETIME_SECONDS", settings.peering.lifetime)
    )
    # /healthz, /readyz, /metrics; a negative port (in-process tests) serves none.
    port = int(os.environ.get("TRADEMESH_QAS_OPS_PORT", "8080"))
    if port >= 0:
        host = os.environ.get("TRADEMESH_QAS_OPS_HOST", "0.0.0.0")
        RUNTIME.ops = await metrics.start_ops_server(host, port)


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if RUNTIME.kube is not None:
        await RUNTIME.kube.close()
    if RUNTIME.ops is not None:
        await RUNTIME.ops.cleanup()
    RUNTIME.kafka.shutdown()


@kopf.on.event(GROUP, VERSION, PLURAL)
def forget(event: kopf.RawEvent, namespace: str, name: str, **_: Any) -> None:
    """Drop a deleted CR's metric series. A raw-event handler: unlike on.delete it keeps no
    state on the object and adds no finalizer."""
    if event.get("type") == "DELETED":
        metrics.forget(namespace, name)


async def _tls(namespace: str, spec: Spec) -> dict[str, str] | None:
    tls = spec.kafka.tls
    if tls is None:
        return None
    key = (namespace, tls.secret_name)
    cached = RUNTIME.secrets.get(key)
    if cached is None or time.monotonic() - cached[0] > SECRET_TTL_SECONDS:
        data = await RUNTIME.client().read_secret(namespace, tls.secret_name)
        cached = (time.monotonic(), data)
        RUNTIME.secrets[key] = cached
    data = cached[1]
    pem = {"ssl.ca.pem": data.get(tls.ca_key, "")}
    if tls.cert_key and tls.key_key:
        pem |= {
            "ssl.certificate.pem": data.get(tls.cert_key, ""),
            "ssl.key.pem": data.get(tls.key_key, ""),
        }
    return pem


async def _read_lag(namespace: str, spec: Spec) -> list:
    config = admin_config(spec.kafka.bootstrap_servers, await _tls(namespace, spec))
    admin = RUNTIME.kafka.client(config)
    timeout = max(1.0, min(10.0, spec.poll_interval_seconds))
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        RUNTIME.kafka.executor,
        read_offsets,
        admin,
        spec.kafka.consumer_group,
        spec.kafka.topics,
        timeout,
    )


def _now_iso() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _conditions(decision: Decision, previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conditions keep their lastTransitionTime while their status does not change."""
    before = {c.get("type"): c for c in previous or []}
    now = _now_iso()
    result = []
    for c in decision.conditions:
        old = before.get(c.type)
        since = old.get("lastTransitionTime", now) if old and old.get("status") == c.status else now
        result.append(
            {
                "type": c.type,
                "status": c.status,
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": since,
            }
        )
    return result


@kopf.timer(GROUP, VERSION, PLURAL, interval=TICK_SECONDS)
async def poll(
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    namespace: str,
    name: str,
    body: kopf.Body,
    memo: kopf.Memo,
    patch: kopf.Patch,
    logger: logging.Logger,
    **_: Any,
) -> None:
    state: PollState = memo.setdefault("poll", PollState())
    now = time.monotonic()
    if now < state.next_poll:
        return
    parsed = parse_spec(dict(spec))
    state.next_poll = now + parsed.poll_interval_seconds
    started = time.perf_counter()
    kube = RUNTIME.client()
    try:
        scale = await kube.get_scale(namespace, parsed.target)
    except KubeError as exc:
        metrics.POLL_ERRORS.labels("target").inc()
        _set_status(
            patch,
            status,
            {
                "observedGeneration": meta.get("generation"),
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "False",
                        "reason": "TargetUnavailable",
                        "message": str(exc)[:512],
                        "lastTransitionTime": _now_iso(),
                    }
                ],
            },
        )
        return
    current = scale.replicas
    try:
        offsets = await _read_lag(namespace, parsed)
        decision = decide(parsed.policy, offsets, current, state.history, now)
    except (LagReadError, KubeError) as exc:
        metrics.POLL_ERRORS.labels("kafka").inc()
        decision = decide_unreachable(parsed.policy, current, state.history, str(exc))
    state.history = decision.history
    fallback = any(c.type == "Fallback" and c.status == "True" for c in decision.conditions)

    new_status: dict[str, Any] = {
        "observedGeneration": meta.get("generation"),
        "currentReplicas": current,
        "desiredReplicas": decision.desired,
        "totalLag": decision.total_lag,
        "scalingLag": decision.scaling_lag,
        "partitions": decision.partitions,
        "worstPartitions": [
            {"topic": w.topic, "partition": w.partition, "lag": w.lag, "state": w.state}
            for w in decision.worst
        ],
        "reasons": list(decision.reasons),
        "conditions": _conditions(decision, status.get("conditions") or []),
    }
    if decision.desired != current:
        await kube.patch_scale(namespace, parsed.target, decision.desired)
        state.history = state.history.scaled(now, current, decision.desired)
        direction = "up" if decision.desired > current else "down"
        metrics.SCALES.labels(direction).inc()
        new_status["currentReplicas"] = decision.desired
        new_status["lastScaleTime"] = _now_iso()
        why = "; ".join(decision.reasons) or f"lag {decision.total_lag}"
        kopf.event(
            body,
            type="Warning" if fallback else "Normal",
            reason="FallbackScaled" if fallback else f"Scaled{direction.title()}",
            message=f"{parsed.target.kind}/{parsed.target.name} {current} -> "
            f"{decision.desired} replicas ({why})",
        )
        logger.info("scaled %s from %d to %d", parsed.target.name, current, decision.desired)

    for gauge, value in (
        (metrics.LAG, decision.total_lag),
        (metrics.SCALING_LAG, decision.scaling_lag),
        (metrics.DESIRED, decision.desired),
        (metrics.CURRENT, current),
        (metrics.FALLBACK, int(fallback)),
    ):
        gauge.labels(namespace, name).set(value)
    metrics.POLL_SECONDS.observe(time.perf_counter() - started)
    _set_status(patch, status, new_status)


def _set_status(patch: kopf.Patch, status: kopf.Status, new: dict[str, Any]) -> None:
    """Patch only what changed: 200 idle CRs must not write to etcd every few seconds."""
    changed = {k: v for k, v in new.items() if status.get(k) != v}
    if changed:
        patch.status.update(changed)
