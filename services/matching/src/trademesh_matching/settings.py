import socket

from trademesh_common.config import ServiceSettings
from trademesh_common.kafka import Topics


class MatchingSettings(ServiceSettings):
    service_name: str = "matching"
    grpc_port: int = 50052
    consumer_group: str = "matching"
    orders_topic: str = Topics.ORDERS
    executions_topic: str = Topics.EXECUTIONS
    marketdata_topic: str = Topics.MARKETDATA
    # Unique per instance; the consumer group metadata sent with each
    # transaction fences a zombie instance that still holds old partitions.
    transactional_id: str = f"matching-{socket.gethostname()}"
    # Kafka static membership: an instance restarted under the same id (a container
    # restart, a StatefulSet pod) takes its partitions straight back instead of waiting for
    # the group to notice the old member's session expire. Unset: dynamic membership.
    group_instance_id: str | None = None
    # Commands consumed (and committed) per Kafka transaction.
    batch_size: int = 1000
    snapshot_every_commands: int = 20_000
    snapshot_every_seconds: float = 5.0
    # How many recent order ids per partition are remembered to drop a
    # redelivered command (order entry's outbox relay can send one twice).
    dedupe_window: int = 20_000
