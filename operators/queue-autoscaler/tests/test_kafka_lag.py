"""Offsets read from a real broker: the inputs of the decision."""

import uuid

import pytest

from trademesh_queue_autoscaler.decision import partition_lag
from trademesh_queue_autoscaler.kafka_lag import (
    AdminPool,
    LagReadError,
    admin_config,
    read_offsets,
)
from trademesh_queue_autoscaler.spec import OffsetPolicy

pytestmark = pytest.mark.integration


def test_offsets_committed_uncommitted_and_retention(kafka):
    topic = kafka.topic(3)
    group = f"g-{uuid.uuid4().hex[:8]}"
    kafka.produce(topic, {0: 50, 1: 20, 2: 10})
    kafka.commit(group, topic, {0: 10, 1: 5})  # partition 2: never committed
    kafka.delete_before(topic, {1: 15})  # retention removed 0..14 of partition 1
    pool = AdminPool(workers=1)
    try:
        admin = pool.client(admin_config(kafka.bootstrap, None))
        offsets = {p.partition: p for p in read_offsets(admin, group, (topic,), timeout=10)}
    finally:
        pool.shutdown()
    assert (offsets[0].log_start, offsets[0].log_end, offsets[0].committed) == (0, 50, 10)
    assert (offsets[1].log_start, offsets[1].committed) == (15, 5)
    assert offsets[2].committed is None
    assert partition_lag(offsets[0], OffsetPolicy.LATEST).lag == 40
    # 5 committed, but 5..14 were deleted: 5 messages left to read, not 15
    assert partition_lag(offsets[1], OffsetPolicy.LATEST).lag == 5
    assert partition_lag(offsets[2], OffsetPolicy.EARLIEST).lag == 10
    assert partition_lag(offsets[2], OffsetPolicy.LATEST).lag == 0


def test_unknown_topic_is_a_read_error(kafka):
    pool = AdminPool(workers=1)
    try:
        admin = pool.client(admin_config(kafka.bootstrap, None))
        with pytest.raises(LagReadError, match="not found"):
            read_offsets(admin, "g", ("no-such-topic-qas",), timeout=5)
    finally:
        pool.shutdown()


def test_unreachable_kafka_is_a_read_error():
    pool = AdminPool(workers=1)
    try:
        admin = pool.client(admin_config("127.0.0.1:1", None))
        with pytest.raises(LagReadError):
            read_offsets(admin, "g", ("t",), timeout=1)
    finally:
        pool.shutdown()
