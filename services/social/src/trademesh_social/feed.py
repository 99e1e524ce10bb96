"""The social use cases: what a post, a comment, a like and a sentiment read do."""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar
from uuid import UUID

import asyncpg
from redis.exceptions import RedisError

from trademesh_common.rate_limit import RateLimit, RedisRateLimiter
from trademesh_social import store
from trademesh_social.errors import InvalidRequest, PostNotFound, RateLimited, Unavailable
from trademesh_social.live import LivePublisher
from trademesh_social.paging import decode_page_token, encode_page_token, page_size
from trademesh_social.records import Comment, Post, SentimentBucket
from trademesh_social.sentiment import sentiment_score
from trademesh_social.settings import SocialSettings
from trademesh_social.text import cashtags, clean_text, normalise_symbol

log = logging.getLogger(__name__)

MAX_USER_ID_CHARS = 64
# Bucket widths and the window read when the caller names none.
INTERVALS = {
    "hour": (timedelta(hours=1), timedelta(hours=24)),
    "day": (timedelta(days=1), timedelta(days=30)),
}
MAX_BUCKETS = 1000


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_page_token: str


@dataclass(frozen=True, slots=True)
class Sentiment:
    symbol: str
    interval: str
    start: datetime
    end: datetime
    post_count: int
    mean_sentiment: float
    buckets: list[SentimentBucket]


def _user(user_id: str) -> str:
    if not user_id or len(user_id) > MAX_USER_ID_CHARS:
        raise InvalidRequest(f"user_id must be 1-{MAX_USER_ID_CHARS} characters")
    return user_id


def parse_post_id(raw: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise InvalidRequest(f"post_id must be a UUID, got {raw[:64]!r}") from None


class SocialFeed:
    def __init__(
        self,
        pool: asyncpg.Pool,
        limiter: RedisRateLimiter,
        live: LivePublisher,
        settings: SocialSettings,
    ) -> None:
        self._pool = pool
        self._limiter = limiter
        self._live = live
        self._settings = settings

    async def _take_slot(self, action: str, user_id: str, limit: RateLimit) -> None:
        try:
            decision = await self._limiter.acquire(f"{action}:{user_id}", limit)
        except RedisError as error:
            log.error("rate limiter unavailable", extra={"error": repr(error)})
            raise Unavailable("writes are paused: the rate limiter is unavailable") from None
        if not decision.allowed:
            raise RateLimited(
                f"too many {action}s: at most {limit.count} per minute; retry in "
                f"{decision.retry_after_header} s",
                decision.retry_after_seconds,
            )

    async def create_post(self, user_id: str, symbol: str, raw_text: str) -> Post:
        user_id = _user(user_id)
        symbol = normalise_symbol(symbol)
        text = clean_text(raw_text, max_chars=self._settings.max_post_chars, what="post")
        await self._take_slot("post", user_id, self._settings.post_limit)
        async with self._pool.acquire() as conn, conn.transaction():
            post = await store.insert_post(
                conn,
                user_id=user_id,
                symbol=symbol,
                text=text,
                cashtags=cashtags(text),
                sentiment=sentiment_score(text),
            )
        await self._live.post_created(post)
        return post

    async def list_posts(self, symbol: str, limit: int, page_token: str) -> Page[Post]:
        symbol = normalise_symbol(symbol)
        size = page_size(limit)
        listing = f"posts:{symbol}"
        before = decode_page_token(listing, page_token)
        async with self._pool.acquire() as conn:
            # One extra row tells whether another page follows.
            posts = await store.list_posts(conn, symbol, before_seq=before, limit=size + 1)
        page = posts[:size]
        token = encode_page_token(listing, page[-1].seq) if len(posts) > size else ""
        return Page(page, token)

    async def create_comment(self, user_id: str, post_id: str, raw_text: str) -> Comment:
        user_id = _user(user_id)
        post_uuid = parse_post_id(post_id)
        text = clean_text(raw_text, max_chars=self._settings.max_comment_chars, what="comment")
        await self._take_slot("comment", user_id, self._settings.comment_limit)
        async with self._pool.acquire() as conn:
            async with conn.transaction():
                comment = await store.insert_comment(
                    conn,
                    post_id=post_uuid,
                    user_id=user_id,
                    text=text,
                    cashtags=cashtags(text),
                    sentiment=sentiment_score(text),
                )
            post = await store.get_post(conn, post_uuid) if comment is not None else None
        if comment is None or post is None:
            raise PostNotFound(f"post {post_id} not found")
        await self._live.comment_created(post, comment)
        return comment

    async def list_comments(self, post_id: str, limit: int, page_token: str) -> Page[Comment]:
        post_uuid = parse_post_id(post_id)
        size = page_size(limit)
        listing = f"comments:{post_uuid}"
        after = decode_page_token(listing, page_token)
        async with self._pool.acquire() as conn:
            if await store.get_post(conn, post_uuid) is None:
                raise PostNotFound(f"post {post_id} not found")
            comments = await store.list_comments(conn, post_uuid, after_seq=after, limit=size + 1)
        page = comments[:size]
        token = encode_page_token(listing, page[-1].seq) if len(comments) > size else ""
        return Page(page, token)

    async def like(self, user_id: str, post_id: str) -> tuple[int, bool]:
        user_id = _user(user_id)
        post_uuid = parse_post_id(post_id)
        await self._take_slot("like", user_id, self._settings.like_limit)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                return await store.like_post(conn, post_uuid, user_id)
        except LookupError:
            raise PostNotFound(f"post {post_id} not found") from None

    async def sentiment(
        self,
        symbol: str,
        interval: str,
        start: datetime | None,
        end: datetime | None,
    ) -> Sentiment:
        symbol = normalise_symbol(symbol)
        width, default_window = INTERVALS[interval]
        end = end or datetime.now(UTC)
        if start is None:
            # `to` within the default window of year 1 would underflow datetime.
            earliest = datetime.min.replace(tzinfo=UTC)
            start = end - default_window if end - earliest > default_window else earliest
        if start >= end:
            raise InvalidRequest("from must be before to")
        if (end - start) / width > MAX_BUCKETS:
            raise InvalidRequest(f"the window spans more than {MAX_BUCKETS} {interval} buckets")
        async with self._pool.acquire() as conn:
            buckets = await store.sentiment_buckets(conn, symbol, width=width, start=start, end=end)
        count = sum(bucket.post_count for bucket in buckets)
        total = sum(bucket.mean_sentiment * bucket.post_count for bucket in buckets)
        return Sentiment(
            symbol=symbol,
            interval=interval,
            start=start,
            end=end,
            post_count=count,
            mean_sentiment=total / count if count else 0.0,
            buckets=buckets,
        )
