"""Fixtures for the social service's integration tests: the service running in-process
against the devstack's real PostgreSQL and Redis, and a gRPC stub."""

import random
import string
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from trademesh.social.v1 import social_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import create_channel
from trademesh_social.app import SocialApp
from trademesh_social.settings import SocialSettings

# Small, so the limit tests reach it quickly; other tests use a fresh user per write.
POSTS_PER_MINUTE = 3
MAX_POST_CHARS = 280
MAX_COMMENT_CHARS = 140


@dataclass(frozen=True)
class SocialStack:
    dsn: str
    redis_url: str


@pytest.fixture(scope="session")
def social_stack(devstack: Any) -> SocialStack:
    dsn = devstack.create_database(f"social_it_{uuid.uuid4().hex[:8]}")
    return SocialStack(dsn=dsn, redis_url=devstack.env()["TRADEMESH_REDIS_URL"])


@pytest.fixture(scope="session")
async def social_app(social_stack: SocialStack) -> AsyncIterator[SocialApp]:
    settings = SocialSettings(
        postgres_dsn=social_stack.dsn,
        redis_url=social_stack.redis_url,
        grpc_host="127.0.0.1",
        grpc_port=0,
        max_post_chars=MAX_POST_CHARS,
        max_comment_chars=MAX_COMMENT_CHARS,
        posts_per_minute=POSTS_PER_MINUTE,
    )
    app = SocialApp(settings, Health())
    await app.start()
    try:
        yield app
    finally:
        await app.stop()


@pytest.fixture(scope="session")
async def social(social_app: SocialApp) -> AsyncIterator[social_pb2_grpc.SocialServiceStub]:
    channel = create_channel(f"127.0.0.1:{social_app.grpc_port}", TlsSettings())
    try:
        yield social_pb2_grpc.SocialServiceStub(channel)
    finally:
        await channel.close()


@pytest.fixture(scope="session")
async def db(social_stack: SocialStack, social_app: SocialApp) -> AsyncIterator[asyncpg.Pool]:
    """Direct access for arranging what the API cannot (post times in the past)."""
    pool = await asyncpg.create_pool(social_stack.dsn, min_size=1, max_size=2)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
def symbol() -> str:
    """A ticker no other test posts on, so feeds and aggregates start empty."""
    return "Z" + "".join(random.choices(string.ascii_uppercase, k=5))


@pytest.fixture
def user() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"
