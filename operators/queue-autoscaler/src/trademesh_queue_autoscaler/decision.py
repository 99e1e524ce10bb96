"""The scaling decision: offsets in, desired replicas and conditions out. Pure: no I/O, no
clock; everything it remembers between polls travels in `History`.

Lag semantics (each one answers a known KEDA Kafka-scaler complaint; see the README):
- a partition without a valid committed offset counts per an explicit `OffsetPolicy`; lag is
  never negative and never grows past what the broker still holds;
- messages removed by retention are not lag: a committed offset below the log start offset
  counts from the log start;
- stuck partitions (lag that does not move) can be left out of the scaling lag while still
  keeping the workload active;
- saturation (desired at or above the partition cap) bypasses the tolerance band, so the
  group cannot stall just below the cap ("22 of 24 replicas");
- average-per-replica and total modes are separate, explicit spec values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from .spec import LagMode, OffsetPolicy, Policy, ReplicaCap

WORST_PARTITIONS = 5

PartitionKey = tuple[str, int]


@dataclass(frozen=True)
class PartitionOffsets:
    """What the broker says about one partition. `committed` is None when the group has no
    committed offset there (or the broker returned an invalid one, e.g. -1001)."""

    topic: str
    partition: int
    log_start: int
    log_end: int
    committed: int | None


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    lag: int
    state: str  # ok | uncommitted | behindLogStart | aheadOfLogEnd | stuck
    counted: bool = True  # False: left out of the lag entirely (offsetPolicy ignore)


@dataclass(frozen=True)
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str


@dataclass(frozen=True)
class History:
    """What a decision remembers between polls (kept in memory by the operator)."""

    recommendations: tuple[tuple[float, int], ...] = ()
    scale_events: tuple[tuple[float, int, int], ...] = ()  # (at, from, to)
    progress: Mapping[PartitionKey, tuple[int | None, float]] = field(default_factory=dict)
    failures: int = 0

    def scaled(self, at: float, old: int, new: int) -> History:
        """The history after the target really went from `old` to `new` replicas."""
        return replace(self, scale_events=(*self.scale_events, (at, old, new)))


@dataclass(frozen=True)
class Decision:
    desired: int
    total_lag: int
    scaling_lag: int
    partitions: int
    worst: tuple[PartitionLag, ...]
    conditions: tuple[Condition, ...]
    history: History
    reasons: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return any(c.type == "Active" and c.status == "True" for c in self.conditions)


def partition_lag(p: PartitionOffsets, policy: OffsetPolicy) -> PartitionLag:
    """One partition's lag, clamped to what the broker still holds: [0, end - start]."""
    end = max(p.log_end, p.log_start)
    retained = end - p.log_start
    if p.committed is None or p.committed < 0 or p.committed > end:
        state = "uncommitted" if p.committed is None or p.committed < 0 else "aheadOfLogEnd"
        if policy is OffsetPolicy.EARLIEST:
            return PartitionLag(p.topic, p.partition, retained, state)
        return PartitionLag(
            p.topic, p.partition, 0, state, counted=policy is not OffsetPolicy.IGNORE
        )
    if p.committed < p.log_start:
        # The consumer will resume at the log start: what retention deleted is gone, not lag.
        return PartitionLag(p.topic, p.partition, retained, "behindLogStart")
    return PartitionLag(p.topic, p.partition, end - p.committed, "ok")


def _track_progress(
    lags: Iterable[PartitionLag],
    offsets: Mapping[PartitionKey, PartitionOffsets],
    previous: Mapping[PartitionKey, tuple[int | None, float]],
    now: float,
) -> dict[PartitionKey, tuple[int | None, float]]:
    """Since when each partition's committed offset has stood still while it had lag."""
    progress: dict[PartitionKey, tuple[int | None, float]] = {}
    for lag in lags:
        key = (lag.topic, lag.partition)
        committed = offsets[key].committed
        seen = previous.get(key)
        if lag.lag > 0 and seen is not None and seen[0] == committed:
            progress[key] = seen
        else:
            progress[key] = (committed, now)
    return progress


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _raw_replicas(policy: Policy, lag: int, current: int) -> tuple[int, float | None]:
    """Replicas the lag asks for, uncapped, and the usage ratio for the tolerance band."""
    if policy.lag_mode is LagMode.AVERAGE:
        per = policy.lag_per_replica or 1
        ratio = lag / (per * current) if current > 0 else None
        return _ceil_div(lag, per), ratio
    target = policy.target_total_lag or 1
    base = max(current, 1)
    ratio = lag / target
    return math.ceil(base * ratio), ratio if current > 0 else None


def _step_bounds(policy: Policy, history: History, current: int, now: float) -> tuple[int, int]:
    """The lowest and highest replica counts the step policies allow right now."""
    low, high = 0, 1 << 30
    up, down = policy.scale_up, policy.scale_down
    if up.max_step is not None:
        grown = sum(
            new - old
            for at, old, new in history.scale_events
            if new > old and now - at < up.period_seconds
        )
        high = current - grown + up.max_step
    if down.max_step is not None:
        shrunk = sum(
            old - new
            for at, old, new in history.scale_events
            if new < old and now - at < down.period_seconds
        )
        low = current + shrunk - down.max_step
    return low, high


def decide(
    policy: Policy,
    offsets: Iterable[PartitionOffsets],
    current: int,
    history: History,
    now: float,
) -> Decision:
    """Desired replicas for one poll that read every partition's offsets."""
    by_key = {(p.topic, p.partition): p for p in offsets}
    lags = [partition_lag(p, policy.offset_policy) for p in by_key.values()]
    progress = _track_progress(lags, by_key, history.progress, now)
    if policy.stuck.enabled and current > 0:
        # With no replica nothing consumes, so standing still says nothing about a partition.
        after = policy.stuck.after_seconds
        lags = [
            replace(lag, state="stuck")
            if lag.lag > 0 and now - progress[(lag.topic, lag.partition)][1] >= after
            else lag
            for lag in lags
        ]
    counted = [lag for lag in lags if lag.counted]
    total_lag = sum(lag.lag for lag in counted)
    scaling_lag = sum(lag.lag for lag in counted if lag.state != "stuck")
    stuck = sum(1 for lag in counted if lag.state == "stuck")
    partitions = len(by_key)
    worst = tuple(sorted((lag for lag in counted if lag.lag > 0), key=lambda x: -x.lag))
    reasons: list[str] = []

    # Activation looks at every counted partition, stuck ones included: a stuck partition
    # still needs a consumer, it just does not get more of them.
    active = total_lag > policy.activation_lag
    cap = policy.max_replicas
    cap_reason = "MaxReplicas"
    if policy.replica_cap is ReplicaCap.PARTITIONS and 0 < partitions < cap:
        cap, cap_reason = partitions, "PartitionCap"
    cap = max(cap, policy.min_replicas)
    floor = max(policy.min_replicas, 1) if active else policy.min_replicas
    limited: list[tuple[str, str]] = []

    if not active:
        wanted = policy.min_replicas
        reasons.append(f"lag {total_lag} <= activationLag {policy.activation_lag}")
    else:
        raw, ratio = _raw_replicas(policy, scaling_lag, current)
        tolerance = (
            policy.scale_up.tolerance_percent
            if raw > current
            else policy.scale_down.tolerance_percent
        ) / 100
        if raw >= cap:
            # Saturated: go to the cap whatever the band says (KEDA's "22 of 24").
            wanted = raw
        elif ratio is not None and abs(ratio - 1) <= tolerance:
            wanted = current
            reasons.append(f"usage ratio {ratio:.3f} within tolerance {tolerance:.2f}")
        else:
            wanted = raw
        if stuck:
            reasons.append(f"{stuck} stuck partition(s) excluded from scaling lag")
    if wanted > cap:
        limited.append((cap_reason, f"{wanted} replicas wanted, capped at {cap}"))
    elif wanted < floor:
        limited.append(("MinReplicas", f"{wanted} replicas wanted, floor {floor}"))
    recommendation = min(max(wanted, floor), cap)

    # Stabilization as the HPA does it: scale up to the lowest, down to the highest
    # recommendation inside each window. A fresh history counts the current replicas as a
    # recommendation, so an operator restart never scales down before a full window.
    recent = history.recommendations or ((now, current),)
    keep = max(
        policy.scale_up.stabilization_window_seconds,
        policy.scale_down.stabilization_window_seconds,
    )
    recommendations = (*[(t, r) for t, r in recent if now - t < keep], (now, recommendation))
    up_window = [
        r for t, r in recommendations if now - t <= policy.scale_up.stabilization_window_seconds
    ]
    down_window = [
        r for t, r in recommendations if now - t <= policy.scale_down.stabilization_window_seconds
    ]
    up_to, down_to = min(up_window), max(down_window)
    if current < up_to:
        desired = up_to
    elif current > down_to:
        desired = down_to
    else:
        desired = current
    if recommendation not in (desired, current):
        reasons.append(f"stabilization holds {desired} (recommended {recommendation})")

    low, high = _step_bounds(policy, history, current, now)
    if desired > high or desired < low:
        bounded = min(max(desired, low), high)
        limited.append(("StepLimit", f"{desired} replicas wanted, step limit allows {bounded}"))
        desired = bounded

    if policy.paused:
        reasons.append("paused")
        desired = current

    conditions = (
        Condition("Ready", "True", "LagRead", f"read {partitions} partition(s)"),
        Condition(
            "Active",
            "True" if active else "False",
            "LagAboveActivation" if active else "LagAtOrBelowActivation",
            f"total lag {total_lag}, activationLag {policy.activation_lag}",
        ),
        Condition(
            "ScalingLimited",
            "True" if limited else "False",
            limited[0][0] if limited else "WithinBounds",
            "; ".join(m for _, m in limited) or "desired replicas within bounds",
        ),
        Condition("Fallback", "False", "KafkaReachable", "lag read from Kafka"),
    )
    return Decision(
        desired=desired,
        total_lag=total_lag,
        scaling_lag=scaling_lag,
        partitions=partitions,
        worst=worst[:WORST_PARTITIONS],
        conditions=conditions,
        history=History(
            recommendations=recommendations,
            scale_events=tuple(
                e for e in history.scale_events if now - e[0] < _longest_period(policy)
            ),
            progress=progress,
            failures=0,
        ),
        reasons=tuple(reasons),
    )


def _longest_period(policy: Policy) -> int:
    return max(policy.scale_up.period_seconds, policy.scale_down.period_seconds)


def decide_unreachable(policy: Policy, current: int, history: History, error: str) -> Decision:
    """Kafka could not be read: after `failureThreshold` polls in a row go to the fallback
    replicas (straight away: no stabilization on guesses); before that, or without a
    fallback, leave the workload as it is."""
    failures = history.failures + 1
    fallback = policy.fallback
    engaged = fallback is not None and failures >= fallback.failure_threshold and not policy.paused
    desired = fallback.replicas if engaged and fallback is not None else current
    conditions = (
        Condition("Ready", "False", "KafkaUnreachable", error[:512]),
        Condition("Active", "Unknown", "KafkaUnreachable", "lag unknown"),
        Condition("ScalingLimited", "False", "WithinBounds", "no lag-based decision"),
        Condition(
            "Fallback",
            "True" if engaged else "False",
            "FallbackReplicas" if engaged else "BelowFailureThreshold",
            f"{failures} failed poll(s) in a row"
            + (f"; fallback to {desired} replicas" if engaged else ""),
        ),
    )
    return Decision(
        desired=desired,
        total_lag=0,
        scaling_lag=0,
        partitions=0,
        worst=(),
        conditions=conditions,
        history=replace(history, failures=failures),
        reasons=(f"Kafka unreachable: {error[:200]}",),
    )
