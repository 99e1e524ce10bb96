"""Kafka helpers for the operator's tests: a backlog on a topic and a group's commits."""

import uuid

import pytest
from confluent_kafka import ConsumerGroupTopicPartitions, Producer, TopicPartition
from confluent_kafka.admin import AdminClient


class KafkaTool:
    def __init__(self, bootstrap: str, create_topics) -> None:
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})
        self._create_topics = create_topics

    def topic(self, partitions: int) -> str:
        name = f"qas-{uuid.uuid4().hex[:10]}"
        self._create_topics({name: partitions})
        return name

    def produce(self, topic: str, per_partition: dict[int, int]) -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 5})
        for partition, count in per_partition.items():
            for i in range(count):
                producer.produce(topic, value=f"m{i}".encode(), partition=partition)
        assert producer.flush(30) == 0

    def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        """What a consumer's commit does, for a group with no live member."""
        request = ConsumerGroupTopicPartitions(
            group, [TopicPartition(topic, p, o) for p, o in offsets.items()]
        )
        self.admin.alter_consumer_group_offsets([request])[group].result(timeout=30)

    def delete_before(self, topic: str, offsets: dict[int, int]) -> None:
        """What retention does: move the log start offset."""
        futures = self.admin.delete_records(
            [TopicPartition(topic, p, o) for p, o in offsets.items()]
        )
        for future in futures.values():
            future.result(timeout=30)


@pytest.fixture(scope="session")
def kafka(devstack) -> KafkaTool:
    return KafkaTool(devstack.env()["TRADEMESH_KAFKA_BOOTSTRAP"], devstack.create_topics)
