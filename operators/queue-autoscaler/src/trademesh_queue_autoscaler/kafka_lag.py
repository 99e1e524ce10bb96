"""Reads a consumer group's offsets with confluent-kafka's AdminClient: partitions from the
metadata, log start (earliest) and end (latest, read_committed: the last stable offset, so
aborted transactions and markers of the exactly-once producers are not lag) and the group's
committed offsets. Blocking calls, run in the operator's Kafka thread pool."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    IsolationLevel,
    KafkaException,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, OffsetSpec

from .decision import PartitionOffsets

log = logging.getLogger("trademesh_queue_autoscaler.kafka")

IDLE_CLIENT_SECONDS = 600.0


class LagReadError(Exception):
    """Kafka could not be read (unreachable, timed out, unknown topic or group error)."""


class AdminPool:
    """One AdminClient per distinct connection config, shared by every CR that uses it;
    clients unused for IDLE_CLIENT_SECONDS are dropped (librdkafka keeps reconnecting to a
    cluster that went away otherwise)."""

    def __init__(self, workers: int = 16) -> None:
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="kafka-lag")
        self._clients: dict[tuple[tuple[str, str], ...], tuple[AdminClient, float]] = {}
        self._lock = threading.Lock()

    def client(self, config: dict[str, str]) -> AdminClient:
        key = tuple(sorted(config.items()))
        now = time.monotonic()
        with self._lock:
            idle = [k for k, (_, used) in self._clients.items() if now - used > IDLE_CLIENT_SECONDS]
            for stale in idle:
                del self._clients[stale]
            entry = self._clients.get(key)
            admin = entry[0] if entry else AdminClient({**config, "logger": log})
            self._clients[key] = (admin, now)
            return admin

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self._clients.clear()


def admin_config(bootstrap: str, tls: dict[str, str] | None) -> dict[str, str]:
    """librdkafka settings; TLS material goes in as PEM strings, never to disk."""
    config = {"bootstrap.servers": bootstrap, "client.id": "trademesh-queue-autoscaler"}
    if tls:
        config["security.protocol"] = "SSL"
        for key in ("ssl.ca.pem", "ssl.certificate.pem", "ssl.key.pem"):
            if tls.get(key):
                config[key] = tls[key]
    return config


def read_offsets(
    admin: AdminClient, group: str, topics: tuple[str, ...], timeout: float
) -> list[PartitionOffsets]:
    try:
        metadata = admin.list_topics(timeout=timeout)
        partitions: list[TopicPartition] = []
        for topic in topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None:
                raise LagReadError(f"topic {topic!r} not found")
            partitions += [TopicPartition(topic, p) for p in sorted(found.partitions)]
        ends = {
            which: admin.list_offsets(
                {tp: spec for tp in partitions},
                isolation_level=IsolationLevel.READ_COMMITTED,
                request_timeout=timeout,
            )
            for which, spec in (("start", OffsetSpec.earliest()), ("end", OffsetSpec.latest()))
        }
        committed_future = admin.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, partitions)], request_timeout=timeout
        )[group]
        committed = {
            (tp.topic, tp.partition): tp.offset if tp.error is None and tp.offset >= 0 else None
            for tp in committed_future.result(timeout=timeout).topic_partitions
        }
        result = []
        for tp in partitions:
            start = ends["start"][tp].result(timeout=timeout).offset
            end = ends["end"][tp].result(timeout=timeout).offset
            key = (tp.topic, tp.partition)
            result.append(PartitionOffsets(tp.topic, tp.partition, start, end, committed.get(key)))
        return result
    except KafkaException as exc:
        raise LagReadError(str(exc.args[0] if exc.args else exc)) from exc
    except TimeoutError as exc:
        raise LagReadError(f"Kafka did not answer within {timeout:.0f}s") from exc
