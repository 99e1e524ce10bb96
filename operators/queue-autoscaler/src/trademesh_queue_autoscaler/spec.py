"""The QueueAutoscaler spec as typed values; defaults mirror the CRD's so a spec that skipped
API-server defaulting (unit tests, older objects) still means the same thing."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ReplicaCap(StrEnum):
    PARTITIONS = "partitions"  # a consumer beyond the partition count would sit idle
    UNBOUNDED = "unbounded"


class LagMode(StrEnum):
    AVERAGE = "average"  # each replica carries at most lagPerReplica: ceil(lag / lagPerReplica)
    TOTAL = "total"  # proportional on the whole group's lag: ceil(current * lag / targetTotalLag)


class OffsetPolicy(StrEnum):
    """What a partition without a usable committed offset counts as (mirror the consumer's
    auto.offset.reset): the whole retained log, nothing, or left out of the lag entirely."""

    EARLIEST = "earliest"
    LATEST = "latest"
    IGNORE = "ignore"


@dataclass(frozen=True)
class ScaleTarget:
    api_version: str
    kind: str
    name: str


@dataclass(frozen=True)
class KafkaTls:
    secret_name: str
    ca_key: str = "ca.crt"
    cert_key: str | None = "tls.crt"
    key_key: str | None = "tls.key"


@dataclass(frozen=True)
class KafkaSource:
    bootstrap_servers: str
    consumer_group: str
    topics: tuple[str, ...]
    tls: KafkaTls | None = None


@dataclass(frozen=True)
class Direction:
    """One direction of HPA-like behaviour."""

    stabilization_window_seconds: int
    tolerance_percent: int = 10
    max_step: int | None = None  # replicas per period; None: unlimited
    period_seconds: int = 15


@dataclass(frozen=True)
class StuckPartitions:
    """A partition whose committed offset has not moved for `after_seconds` while it has lag is
    left out of the scaling lag (more consumers cannot help a poison message) but still keeps
    the workload active."""

    enabled: bool = False
    after_seconds: int = 300


@dataclass(frozen=True)
class Fallback:
    replicas: int
    failure_threshold: int = 3


@dataclass(frozen=True)
class Policy:
    min_replicas: int = 1
    max_replicas: int = 10
    lag_per_replica: int | None = 1000
    target_total_lag: int | None = None
    activation_lag: int = 0
    replica_cap: ReplicaCap = ReplicaCap.PARTITIONS
    lag_mode: LagMode = LagMode.AVERAGE
    offset_policy: OffsetPolicy = OffsetPolicy.LATEST
    stuck: StuckPartitions = field(default_factory=StuckPartitions)
    scale_up: Direction = field(default_factory=lambda: Direction(stabilization_window_seconds=0))
    scale_down: Direction = field(
        default_factory=lambda: Direction(stabilization_window_seconds=300)
    )
    fallback: Fallback | None = None
    paused: bool = False


@dataclass(frozen=True)
class Spec:
    target: ScaleTarget
    kafka: KafkaSource
    policy: Policy
    poll_interval_seconds: float = 5.0


def _direction(raw: dict[str, Any], default_window: int) -> Direction:
    return Direction(
        stabilization_window_seconds=int(raw.get("stabilizationWindowSeconds", default_window)),
        tolerance_percent=int(raw.get("tolerancePercent", 10)),
        max_step=int(raw["maxStep"]) if raw.get("maxStep") is not None else None,
        period_seconds=int(raw.get("periodSeconds", 15)),
    )


def parse_spec(spec: dict[str, Any]) -> Spec:
    """Typed view of a CR's spec (the API server has already validated it against the CRD)."""
    target = spec["scaleTargetRef"]
    kafka = spec["kafka"]
    tls = kafka.get("tls")
    behavior = spec.get("behavior") or {}
    stuck = spec.get("stuckPartitions") or {}
    fallback = spec.get("fallback")
    return Spec(
        target=ScaleTarget(target["apiVersion"], target["kind"], target["name"]),
        kafka=KafkaSource(
            bootstrap_servers=kafka["bootstrapServers"],
            consumer_group=kafka["consumerGroup"],
            topics=tuple(kafka["topics"]),
            tls=KafkaTls(
                secret_name=tls["secretName"],
                ca_key=tls.get("caKey", "ca.crt"),
                cert_key=tls.get("certKey"),
                key_key=tls.get("keyKey"),
            )
            if tls
            else None,
        ),
        policy=Policy(
            min_replicas=int(spec.get("minReplicas", 1)),
            max_replicas=int(spec["maxReplicas"]),
            lag_per_replica=spec.get("lagPerReplica"),
            target_total_lag=spec.get("targetTotalLag"),
            activation_lag=int(spec.get("activationLag", 0)),
            replica_cap=ReplicaCap(spec.get("replicaCap", "partitions")),
            lag_mode=LagMode(spec.get("lagMode", "average")),
            offset_policy=OffsetPolicy(spec.get("offsetPolicy", "latest")),
            stuck=StuckPartitions(
                enabled=bool(stuck.get("enabled", False)),
                after_seconds=int(stuck.get("afterSeconds", 300)),
            ),
            scale_up=_direction(behavior.get("scaleUp") or {}, 0),
            scale_down=_direction(behavior.get("scaleDown") or {}, 300),
            fallback=Fallback(
                replicas=int(fallback["replicas"]),
                failure_threshold=int(fallback.get("failureThreshold", 3)),
            )
            if fallback
            else None,
            paused=bool(spec.get("paused", False)),
        ),
        poll_interval_seconds=float(spec.get("pollIntervalSeconds", 5)),
    )
