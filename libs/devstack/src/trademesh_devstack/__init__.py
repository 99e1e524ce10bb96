"""Real Redis, PostgreSQL and Kafka (KRaft) on loopback for the dev loop and the test suites.

from trademesh_devstack import DevStack

with DevStack(tmp_dir) as stack:
    dsn = stack.create_database("orders")
    stack.create_topics({"orders.events": 3})
    env = stack.env()  # TRADEMESH_REDIS_URL, TRADEMESH_KAFKA_BOOTSTRAP, ...
"""

from ._proc import DevStackError, free_port
from .install import KAFKA_VERSION, install_all
from .kafka import KafkaBroker, create_topics
from .postgres import PostgresServer, create_database
from .redis import RedisServer
from .stack import (
    ENV_KAFKA_BOOTSTRAP,
    ENV_POSTGRES_ADMIN_DSN,
    ENV_REDIS_URL,
    AttachedStack,
    DevStack,
    Stack,
    default_state_dir,
)

__all__ = [
    "ENV_KAFKA_BOOTSTRAP",
    "ENV_POSTGRES_ADMIN_DSN",
    "ENV_REDIS_URL",
    "KAFKA_VERSION",
    "AttachedStack",
    "DevStack",
    "DevStackError",
    "KafkaBroker",
    "PostgresServer",
    "RedisServer",
    "Stack",
    "create_database",
    "create_topics",
    "default_state_dir",
    "free_port",
    "install_all",
]
