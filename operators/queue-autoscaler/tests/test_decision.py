"""The scaling decision, table by table: every KEDA Kafka-scaler complaint has a row."""

from dataclasses import replace

import pytest

from trademesh_queue_autoscaler.decision import (
    History,
    PartitionOffsets,
    decide,
    decide_unreachable,
    partition_lag,
)
from trademesh_queue_autoscaler.spec import (
    Direction,
    Fallback,
    LagMode,
    OffsetPolicy,
    Policy,
    ReplicaCap,
    StuckPartitions,
    parse_spec,
)

NOW = 10_000.0


def part(n, start, end, committed, topic="orders"):
    return PartitionOffsets(topic, n, start, end, committed)


def even(partitions, lag_each, topic="orders"):
    """`partitions` partitions with `lag_each` messages of lag each."""
    return [part(i, 0, 1000 + lag_each, 1000, topic) for i in range(partitions)]


def cond(decision, kind):
    return next(c for c in decision.conditions if c.type == kind)


def policy(**kw):
    base = Policy(
        min_replicas=1,
        max_replicas=50,
        lag_per_replica=100,
        scale_down=Direction(stabilization_window_seconds=0),
    )
    return replace(base, **kw)


@pytest.mark.parametrize(
    ("offsets", "offset_policy", "lag", "state", "counted"),
    [
        # plain lag: end - committed
        (part(0, 0, 500, 200), OffsetPolicy.LATEST, 300, "ok", True),
        # retention deleted 0..400: the consumer resumes at 400, so 100 of lag, not 500
        (part(0, 400, 500, 0), OffsetPolicy.LATEST, 100, "behindLogStart", True),
        # no committed offset: explicit policy, never -1001-sized runaway or negative lag
        (part(0, 100, 500, None), OffsetPolicy.EARLIEST, 400, "uncommitted", True),
        (part(0, 100, 500, None), OffsetPolicy.LATEST, 0, "uncommitted", True),
        (part(0, 100, 500, None), OffsetPolicy.IGNORE, 0, "uncommitted", False),
        (part(0, 100, 500, -1001), OffsetPolicy.EARLIEST, 400, "uncommitted", True),
        # committed past the log end (topic recreated): invalid, same explicit policy
        (part(0, 0, 500, 9000), OffsetPolicy.LATEST, 0, "aheadOfLogEnd", True),
        (part(0, 0, 500, 9000), OffsetPolicy.EARLIEST, 500, "aheadOfLogEnd", True),
        # empty partition whose log start passed the end it reported a moment ago
        (part(0, 600, 500, 600), OffsetPolicy.LATEST, 0, "ok", True),
    ],
)
def test_partition_lag_is_never_negative_nor_past_the_retained_log(
    offsets, offset_policy, lag, state, counted
):
    result = partition_lag(offsets, offset_policy)
    assert (result.lag, result.state, result.counted) == (lag, state, counted)


@pytest.mark.parametrize(
    ("name", "pol", "offsets", "current", "desired", "limited"),
    [
        ("average: ceil(lag / lagPerReplica)", policy(), even(16, 60), 1, 10, "WithinBounds"),
        (
            "total mode is proportional on the group's lag",
            policy(lag_mode=LagMode.TOTAL, lag_per_replica=None, target_total_lag=500),
            even(8, 125),
            2,
            4,
            "WithinBounds",
        ),
        ("partition cap", policy(), even(4, 1000), 1, 4, "PartitionCap"),
        (
            "unbounded lets idle consumers exist",
            policy(replica_cap=ReplicaCap.UNBOUNDED, max_replicas=6),
            even(4, 1000),
            1,
            6,
            "MaxReplicas",
        ),
        # KEDA's "22 of 24": 2352/(100*22) = 1.07 is inside a 10% band, yet the cap is 24
        ("saturation bypasses tolerance", policy(), even(24, 98), 22, 24, "WithinBounds"),
        ("saturation far above the cap", policy(), even(24, 10_000), 22, 24, "PartitionCap"),
        ("inside tolerance below the cap: hold", policy(), even(24, 85), 20, 20, "WithinBounds"),
        ("min replicas floor", policy(min_replicas=3), even(4, 10), 3, 3, "MinReplicas"),
        (
            "retention-deleted messages are not lag",
            policy(),
            [part(i, 900, 1000, 0) for i in range(8)],
            1,
            8,
            "WithinBounds",
        ),
        (
            "uncommitted with latest counts nothing, still min",
            policy(offset_policy=OffsetPolicy.LATEST),
            [part(i, 0, 10**9, None) for i in range(8)],
            1,
            1,
            "WithinBounds",
        ),
        (
            "uncommitted with earliest counts the retained log",
            policy(offset_policy=OffsetPolicy.EARLIEST),
            [part(i, 0, 150, None) for i in range(4)],
            1,
            4,
            "PartitionCap",
        ),
    ],
)
def test_desired_replicas(name, pol, offsets, current, desired, limited):
    decision = decide(pol, offsets, current, History(), NOW)
    assert decision.desired == desired, name
    assert cond(decision, "ScalingLimited").reason == limited, name
    assert decision.total_lag >= 0


def test_activation_and_scale_to_zero():
    pol = policy(min_replicas=0, activation_lag=50)
    idle = decide(pol, even(4, 10), 2, History(), NOW)  # 40 <= 50
    assert idle.desired == 0
    assert cond(idle, "Active").status == "False"
    woken = decide(pol, even(4, 20), 0, History(), NOW)  # 80 > 50: at least one replica
    assert woken.desired == 1
    assert cond(woken, "Active").status == "True"
    none = decide(pol, even(4, 0), 0, History(), NOW)
    assert none.desired == 0


def test_stuck_partitions_are_excluded_but_keep_the_workload_active():
    pol = policy(
        min_replicas=0,
        replica_cap=ReplicaCap.UNBOUNDED,
        stuck=StuckPartitions(enabled=True, after_seconds=60),
    )
    stuck = [part(0, 0, 5000, 1000)]  # a poison message: committed never moves
    moving = [part(1, 0, 1300, 1000)]
    first = decide(pol, stuck + moving, 4, History(), NOW)
    assert first.desired == 43  # not stuck yet: 4000 + 300 lag
    later_moving = [part(1, 0, 1400, 1200)]
    second = decide(pol, stuck + later_moving, 43, first.history, NOW + 61)
    assert [w.state for w in second.worst] == ["stuck", "ok"]
    assert second.scaling_lag == 200
    assert second.desired == 2
    drained = decide(pol, [*stuck, part(1, 0, 1400, 1400)], 2, second.history, NOW + 62)
    # Only the stuck partition has lag: no scaling lag, yet the workload stays active.
    assert drained.scaling_lag == 0
    assert drained.desired == 1
    assert cond(drained, "Active").status == "True"


def test_a_group_at_zero_replicas_has_no_stuck_partitions():
    pol = policy(
        min_replicas=0,
        replica_cap=ReplicaCap.UNBOUNDED,
        stuck=StuckPartitions(enabled=True, after_seconds=1),
    )
    offsets = [part(0, 0, 500, 100)]
    first = decide(pol, offsets, 0, History(), NOW)
    second = decide(pol, offsets, 0, first.history, NOW + 100)
    assert second.desired == 4


def test_scale_down_waits_for_the_stabilization_window():
    pol = policy(scale_down=Direction(stabilization_window_seconds=60))
    history = decide(pol, even(8, 100), 8, History(), NOW).history
    for t in (10, 30, 59):
        decision = decide(pol, even(8, 0), 8, history, NOW + t)
        assert decision.desired == 8, t
        history = decision.history
    assert decide(pol, even(8, 0), 8, history, NOW + 61).desired == 1


def test_scale_up_window_ignores_a_single_spike():
    pol = policy(scale_up=Direction(stabilization_window_seconds=30))
    history = History()
    for t in range(-40, 0, 5):  # polls every 5 s with no lag
        history = decide(pol, even(8, 0), 1, history, NOW + t).history
    spike = decide(pol, even(8, 500), 1, history, NOW)
    assert spike.desired == 1
    calm = decide(pol, even(8, 0), 1, spike.history, NOW + 5)
    assert calm.desired == 1
    history = calm.history
    for t in range(10, 40, 5):
        history = decide(pol, even(8, 500), 1, history, NOW + t).history
    assert decide(pol, even(8, 500), 1, history, NOW + 40).desired == 8  # sustained a window


def test_a_fresh_history_never_scales_down_before_a_window():
    pol = policy(scale_down=Direction(stabilization_window_seconds=300))
    assert decide(pol, even(8, 0), 6, History(), NOW).desired == 6


def test_step_limits_per_period():
    pol = policy(scale_up=Direction(0, max_step=4, period_seconds=60))
    first = decide(pol, even(32, 100), 2, History(), NOW)
    assert first.desired == 6
    assert cond(first, "ScalingLimited").reason == "StepLimit"
    history = first.history.scaled(NOW, 2, 6)
    second = decide(pol, even(32, 100), 6, history, NOW + 10)
    assert second.desired == 6  # 4 already added within the period
    third = decide(pol, even(32, 100), 6, second.history, NOW + 61)
    assert third.desired == 10
    down = policy(scale_down=Direction(0, max_step=1, period_seconds=60))
    assert decide(down, even(8, 0), 5, History(), NOW).desired == 4


def test_paused_reports_but_never_moves():
    decision = decide(policy(paused=True), even(8, 1000), 1, History(), NOW)
    assert decision.desired == 1
    assert decision.total_lag == 8000


def test_fallback_after_the_failure_threshold():
    pol = policy(fallback=Fallback(replicas=3, failure_threshold=2))
    one = decide_unreachable(pol, 7, History(), "timed out")
    assert one.desired == 7
    assert cond(one, "Fallback").status == "False"
    two = decide_unreachable(pol, 7, one.history, "timed out")
    assert two.desired == 3
    assert cond(two, "Fallback").status == "True"
    assert cond(two, "Ready").status == "False"
    recovered = decide(pol, even(8, 0), 3, two.history, NOW)
    assert recovered.history.failures == 0
    assert cond(recovered, "Fallback").status == "False"


def test_without_fallback_an_outage_leaves_the_workload_alone():
    assert decide_unreachable(policy(), 5, History(), "down").desired == 5


def test_parse_spec_defaults():
    spec = parse_spec(
        {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "m"},
            "kafka": {"bootstrapServers": "k:9092", "consumerGroup": "g", "topics": ["t"]},
            "maxReplicas": 4,
            "lagPerReplica": 10,
        }
    )
    assert spec.poll_interval_seconds == 5
    assert spec.policy.replica_cap is ReplicaCap.PARTITIONS
    assert spec.policy.scale_down.stabilization_window_seconds == 300
    assert spec.kafka.topics == ("t",)
