"""New posts and comments pushed live through Redis pub/sub.

Channel `live.posts.<SYMBOL>` (the convention the gateway's WebSocket subscriptions read:
`live.<channel>.<SYMBOL>`), one JSON message per post or comment, shaped like the public
API's resources. A post is published to every feed it appears in. Publishing happens
after the write commits and is best effort: a missed push costs a live view one item
until its next read, never the write itself.
"""

import logging
from datetime import datetime
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from trademesh_social.records import Comment, Post
from trademesh_social.rendering import render_html

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "live.posts."


def channel_for(symbol: str) -> str:
    return f"{CHANNEL_PREFIX}{symbol}"


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def post_payload(post: Post) -> dict[str, Any]:
    return {
        "post_id": post.post_id,
        "user_id": post.user_id,
        "symbol": post.symbol,
        "text": post.text,
        "html": render_html(post.text),
        "cashtags": post.cashtags,
        "sentiment": post.sentiment,
        "like_count": post.like_count,
        "comment_count": post.comment_count,
        "created_at": _timestamp(post.created_at),
    }


def comment_payload(comment: Comment) -> dict[str, Any]:
    return {
        "comment_id": comment.comment_id,
        "post_id": comment.post_id,
        "user_id": comment.user_id,
        "text": comment.text,
        "html": render_html(comment.text),
        "cashtags": comment.cashtags,
        "sentiment": comment.sentiment,
        "created_at": _timestamp(comment.created_at),
    }


class LivePublisher:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def _publish(self, symbols: list[str], message: dict[str, Any]) -> None:
        for symbol in symbols:
            data = orjson.dumps({**message, "symbol": symbol})
            try:
                await self._redis.publish(channel_for(symbol), data)
            except RedisError as error:
                log.warning(
                    "live push failed", extra={"channel": channel_for(symbol), "error": repr(error)}
                )

    async def post_created(self, post: Post) -> None:
        await self._publish(post.symbols, {"type": "post", "post": post_payload(post)})

    async def comment_created(self, post: Post, comment: Comment) -> None:
        await self._publish(post.symbols, {"type": "comment", "comment": comment_payload(comment)})
