"""The dev stack is real: Redis, PostgreSQL and Kafka answer, transactions isolate, stop cleans up.

One DevStack serves this module (owned here, not the session `devstack` fixture, because the
last test stops it); the plugin's fixture is exercised in nested pytest runs.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient

from trademesh_devstack import (
    ENV_KAFKA_BOOTSTRAP,
    ENV_POSTGRES_ADMIN_DSN,
    ENV_REDIS_URL,
    DevStack,
)
from trademesh_devstack._proc import alive_in, group_members, port_accepts, process_tree
from trademesh_devstack.install import cache_root

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.integration

# pytester points $HOME at a temp dir; nested runs must still find the warm Kafka cache.
REAL_CACHE_DIR = cache_root()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    devstack = DevStack(tmp_path_factory.mktemp("devstack"))
    devstack.start()
    print(f"devstack start timings: {devstack.timings()}")
    try:
        yield devstack
    finally:
        devstack.stop()


def test_env_names_the_three_servers(stack: DevStack) -> None:
    env = stack.env()
    assert env[ENV_REDIS_URL] == f"redis://127.0.0.1:{stack.redis.port}/0"
    assert env[ENV_KAFKA_BOOTSTRAP] == f"127.0.0.1:{stack.kafka.port}"
    assert env[ENV_POSTGRES_ADMIN_DSN].startswith("postgresql://trademesh:")
    assert json.loads((stack.state_dir / "env.json").read_text()) == env


def test_redis_set_get(stack: DevStack) -> None:
    client = redis.Redis.from_url(stack.env()[ENV_REDIS_URL])
    try:
        client.set("devstack:probe", "hello", ex=60)
        assert client.get("devstack:probe") == b"hello"
        assert client.config_get("appendonly")["appendonly"] == "no"
        assert client.config_get("bind")["bind"] == "127.0.0.1"
    finally:
        client.close()


def test_postgres_create_database_and_query(stack: DevStack) -> None:
    dsn = stack.create_database("devstack_probe")
    assert dsn == stack.create_database("devstack_probe")  # idempotent, same DSN
    assert dsn.startswith("postgresql://devstack_probe:")
    assert dsn.endswith(f"@127.0.0.1:{stack.postgres.port}/devstack_probe")
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT current_user, current_database(), version()").fetchone()
        assert row is not None
        assert row[:2] == ("devstack_probe", "devstack_probe")
        assert row[2].startswith("PostgreSQL 15")
        conn.execute("CREATE TABLE probe (id int PRIMARY KEY, v text)")
        conn.execute("INSERT INTO probe VALUES (1, 'x')")
        assert conn.execute("SELECT v FROM probe WHERE id = 1").fetchone() == ("x",)
        assert conn.execute("SHOW fsync").fetchone() == ("off",)
    # TCP logins are password-checked, not trusted.
    bad = dsn.replace(dsn.split(":")[2].split("@")[0], "wrong-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad, connect_timeout=5).close()


def _consume_all(
    bootstrap: str, topic: str, partitions: int, isolation: str, until: int, timeout: float = 20
) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"probe-{uuid.uuid4().hex[:6]}",
            "isolation.level": isolation,
            "enable.auto.commit": False,
        }
    )
    seen: list[bytes] = []
    try:
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
        deadline = time.monotonic() + timeout
        while len(seen) < until and time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                seen.append(msg.value())
    finally:
        consumer.close()
    return seen


def test_kafka_transactions_and_read_committed(stack: DevStack) -> None:
    bootstrap = stack.env()[ENV_KAFKA_BOOTSTRAP]
    topic = f"probe.{uuid.uuid4().hex[:8]}"
    stack.create_topics({topic: 3})
    stack.create_topics({topic: 3})  # idempotent
    meta = AdminClient({"bootstrap.servers": bootstrap}).list_topics(topic, timeout=10)
    assert sorted(meta.topics[topic].partitions) == [0, 1, 2]

    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": f"probe-{topic}"})
    started = time.monotonic()
    producer.init_transactions(10)
    init_seconds = time.monotonic() - started
    assert init_seconds < 5, f"init_transactions took {init_seconds:.1f}s despite the warm-up"

    producer.begin_transaction()
    for p in range(3):
        producer.produce(topic, value=f"committed-{p}".encode(), partition=p)
    producer.commit_transaction(10)

    producer.begin_transaction()
    for p in range(3):
        producer.produce(topic, value=f"aborted-{p}".encode(), partition=p)
    producer.flush(10)  # the records reach the log; only the abort marker hides them
    producer.abort_transaction(10)

    producer.begin_transaction()
    producer.produce(topic, value=b"after-abort", partition=0)
    producer.commit_transaction(10)

    committed = _consume_all(bootstrap, topic, 3, "read_committed", until=4)
    assert sorted(committed) == [b"after-abort", b"committed-0", b"committed-1", b"committed-2"]
    # Nothing aborted sneaks in late: read a little longer, then check again.
    assert not [v for v in committed if v.startswith(b"aborted")]
    uncommitted = _consume_all(bootstrap, topic, 3, "read_uncommitted", until=7)
    assert sorted(v for v in uncommitted if v.startswith(b"aborted")) == [
        b"aborted-0",
        b"aborted-1",
        b"aborted-2",
    ]


_NESTED_TEST = """
import json, os
from pathlib import Path

import psycopg, redis
from trademesh_devstack.install import cache_root
from trademesh_devstack._proc import process_tree

def test_uses_devstack(devstack):
    env = devstack.env()
    redis.Redis.from_url(env["TRADEMESH_REDIS_URL"]).ping()
    with psycopg.connect(devstack.create_database("nested_probe")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    devstack.create_topics({"nested.probe": 2})
    pids = devstack.pids() if hasattr(devstack, "pids") else {}
    tree = {name: process_tree(pid) for name, pid in pids.items()}
    timings = devstack.timings() if hasattr(devstack, "timings") else {}
    out = {"env": env, "pids": pids, "trees": tree, "timings": timings}
    Path(os.environ["NESTED_OUT"]).write_text(json.dumps(out))
"""


def _run_nested(pytester: pytest.Pytester, out: Path) -> pytest.RunResult:
    pytester.makeconftest('pytest_plugins = ["trademesh_devstack.pytest_plugin"]\n')
    pytester.makepyfile(test_nested=_NESTED_TEST)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NESTED_OUT", str(out))
        mp.setenv("TRADEMESH_CACHE_DIR", str(REAL_CACHE_DIR))
        return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", timeout=180)


def test_plugin_attaches_to_a_running_stack(
    stack: DevStack, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / "env.json"
    stack.write_env_file(env_file)
    monkeypatch.setenv("TRADEMESH_DEVSTACK_ENV_FILE", str(env_file))
    result = _run_nested(pytester, tmp_path / "out.json")
    result.assert_outcomes(passed=1)
    seen = json.loads((tmp_path / "out.json").read_text())
    assert seen["env"] == stack.env()
    assert seen["pids"] == {}  # attached: it owns no processes
    assert stack.kafka.running()  # and left ours running


def test_plugin_owns_a_stack_and_stops_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TRADEMESH_DEVSTACK_ENV_FILE", raising=False)
    result = _run_nested(pytester, tmp_path / "out.json")
    result.assert_outcomes(passed=1)
    seen = json.loads((tmp_path / "out.json").read_text())
    print(f"nested devstack start timings: {seen['timings']}")
    assert set(seen["pids"]) == {"redis", "postgres", "kafka"}
    assert len(seen["trees"]["postgres"]) > 1  # the postmaster and its workers
    for name, pid in seen["pids"].items():
        assert group_members(pid) == [], f"{name} left processes behind"
        tree = {int(p): start for p, start in seen["trees"][name].items()}
        assert alive_in(tree) == [], f"{name} left processes behind"


def test_stop_leaves_no_processes(stack: DevStack) -> None:
    # Runs last in this module: it stops the module's stack.
    pids = stack.pids()
    assert set(pids) == {"redis", "postgres", "kafka"}
    trees = {name: process_tree(pid) for name, pid in pids.items()}
    assert len(trees["postgres"]) > 1  # the postmaster and its workers (own sessions each)
    ports = [stack.redis.port, stack.postgres.port, stack.kafka.port, stack.kafka.controller_port]
    started = time.monotonic()
    stack.stop()
    print(f"devstack stop took {time.monotonic() - started:.2f}s")
    stack.stop()  # idempotent
    for name, pid in pids.items():
        assert group_members(pid) == [], f"{name} left processes behind"
        assert alive_in(trees[name]) == [], f"{name} left processes behind"
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not [p for p in ports if port_accepts(p)]
