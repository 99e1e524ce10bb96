"""Kafka, Redis and PostgreSQL in TLS mode refuse every client without a valid certificate."""

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
import redis
from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from trademesh_devstack.kafka import client_security
from trademesh_devstack.pki import LeafFiles

pytestmark = pytest.mark.integration


def with_query(url: str, drop: tuple[str, ...] = (), **params: str) -> str:
    parts = urlsplit(url)
    query = {k: v for k, v in parse_qsl(parts.query) if k not in drop} | params
    return urlunsplit(parts._replace(query=urlencode(query)))


# -- Redis -------------------------------------------------------------------------------


def redis_ping(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        return bool(client.ping())
    finally:
        client.close()


def test_redis_answers_a_client_with_a_certificate(tls_stack):
    assert redis_ping(tls_stack.env()["TRADEMESH_REDIS_URL"])


def test_redis_refuses_plaintext(tls_stack):
    url = tls_stack.env()["TRADEMESH_REDIS_URL"]
    plain = urlunsplit(urlsplit(url)._replace(scheme="redis", query=""))
    with pytest.raises(redis.exceptions.ConnectionError):
        redis_ping(plain)


def test_redis_refuses_tls_without_a_client_certificate(tls_stack):
    url = with_query(tls_stack.env()["TRADEMESH_REDIS_URL"], drop=("ssl_certfile", "ssl_keyfile"))
    with pytest.raises(redis.exceptions.ConnectionError):
        redis_ping(url)


def test_redis_refuses_a_certificate_from_another_ca(tls_stack, stranger: LeafFiles):
    url = with_query(
        tls_stack.env()["TRADEMESH_REDIS_URL"],
        ssl_certfile=str(stranger.cert),
        ssl_keyfile=str(stranger.key),
    )
    with pytest.raises(redis.exceptions.ConnectionError):
        redis_ping(url)


# -- PostgreSQL --------------------------------------------------------------------------


def pg_select(dsn: str) -> int:
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        row = conn.execute("SELECT 1").fetchone()
        assert row is not None
        return int(row[0])


@pytest.fixture(scope="module")
def service_dsn(tls_stack) -> str:
    return tls_stack.create_database("tls_probe")


def test_postgres_accepts_verify_full_with_a_client_certificate(service_dsn):
    assert "sslmode=verify-full" in service_dsn
    assert pg_select(service_dsn) == 1


def test_postgres_refuses_plaintext(service_dsn):
    plain = with_query(service_dsn, drop=("sslcert", "sslkey", "sslrootcert"), sslmode="disable")
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        pg_select(plain)


def test_postgres_refuses_tls_without_a_client_certificate(service_dsn, tmp_path):
    # libpq would pick up ~/.postgresql/postgresql.crt: point it at files that do not exist.
    dsn = with_query(
        service_dsn, sslcert=str(tmp_path / "none.crt"), sslkey=str(tmp_path / "none.key")
    )
    with pytest.raises(psycopg.OperationalError, match="certificate"):
        pg_select(dsn)


def test_postgres_refuses_a_certificate_from_another_ca(service_dsn, stranger: LeafFiles):
    dsn = with_query(service_dsn, sslcert=str(stranger.cert), sslkey=str(stranger.key))
    with pytest.raises(psycopg.OperationalError):
        pg_select(dsn)


# -- Kafka -------------------------------------------------------------------------------


def kafka_topics(bootstrap: str, **security: str) -> set[str]:
    admin = AdminClient(
        {"bootstrap.servers": bootstrap, "socket.timeout.ms": 3000, "log_level": 0, **security}
    )
    return set(admin.list_topics(timeout=5).topics)


def test_kafka_answers_a_client_with_a_certificate(tls_stack):
    env = tls_stack.env()
    assert env["TRADEMESH_KAFKA_SECURITY_PROTOCOL"] == "SSL"
    kafka_topics(env["TRADEMESH_KAFKA_BOOTSTRAP"], **client_security(env))


def test_kafka_refuses_plaintext(tls_stack):
    with pytest.raises(KafkaException):
        kafka_topics(tls_stack.env()["TRADEMESH_KAFKA_BOOTSTRAP"])


def test_kafka_refuses_tls_without_a_client_certificate(tls_stack):
    env = tls_stack.env()
    with pytest.raises(KafkaException):
        kafka_topics(
            env["TRADEMESH_KAFKA_BOOTSTRAP"],
            **{
                "security.protocol": "SSL",
                "ssl.ca.location": env["TRADEMESH_KAFKA_SSL_CA_LOCATION"],
            },
        )


def test_kafka_refuses_a_certificate_from_another_ca(tls_stack, stranger: LeafFiles):
    env = tls_stack.env()
    security = client_security(env) | {
        "ssl.certificate.location": str(stranger.cert),
        "ssl.key.location": str(stranger.key),
    }
    with pytest.raises(KafkaException):
        kafka_topics(env["TRADEMESH_KAFKA_BOOTSTRAP"], **security)
