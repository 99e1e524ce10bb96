"""SQL for the social tables. Functions take a connection so callers own the transaction;
they return records, never raw rows."""

from datetime import datetime, timedelta
from uuid import UUID

import asyncpg

from trademesh_social.records import Comment, Post, SentimentBucket
from trademesh_social.sentiment import NEGATIVE_THRESHOLD, POSITIVE_THRESHOLD

# Transaction-scoped advisory locks that serialise taking a sequence number with committing
# it. Without them a post numbered 10 could commit after one numbered 11 had been served,
# and a reader paging below 11 would never see it. Writes of one kind take turns for the
# few milliseconds of an insert; reads never wait.
_LOCK_NAMESPACE = 0x736F63  # "soc"
_POSTS_LOCK = 1
_COMMENTS_LOCK = 2

_POST_COLUMNS = (
    "p.seq, p.post_id, p.user_id, p.symbol, p.text, p.cashtags, p.sentiment,"
    " p.like_count, p.comment_count, p.created_at"
)
_COMMENT_COLUMNS = "seq, comment_id, post_id, user_id, text, cashtags, sentiment, created_at"


def _post(row: asyncpg.Record) -> Post:
    return Post(
        seq=row["seq"],
        post_id=str(row["post_id"]),
        user_id=row["user_id"],
        symbol=row["symbol"],
        text=row["text"],
        cashtags=list(row["cashtags"]),
        sentiment=row["sentiment"],
        like_count=row["like_count"],
        comment_count=row["comment_count"],
        created_at=row["created_at"],
    )


def _comment(row: asyncpg.Record) -> Comment:
    return Comment(
        seq=row["seq"],
        comment_id=str(row["comment_id"]),
        post_id=str(row["post_id"]),
        user_id=row["user_id"],
        text=row["text"],
        cashtags=list(row["cashtags"]),
        sentiment=row["sentiment"],
        created_at=row["created_at"],
    )


async def insert_post(
    conn: asyncpg.Connection,
    *,
    user_id: str,
    symbol: str,
    text: str,
    cashtags: list[str],
    sentiment: float,
) -> Post:
    """Inserts a post and its feed rows; call inside a transaction."""
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_NAMESPACE, _POSTS_LOCK)
    row = await conn.fetchrow(
        "INSERT INTO posts AS p (user_id, symbol, text, cashtags, sentiment, created_at)"
        " VALUES ($1, $2, $3, $4, $5, clock_timestamp())"
        f" RETURNING {_POST_COLUMNS}",
        user_id,
        symbol,
        text,
        cashtags,
        sentiment,
    )
    post = _post(row)
    await conn.executemany(
        "INSERT INTO post_symbols (symbol, post_seq, post_id, sentiment, created_at)"
        " VALUES ($1, $2, $3, $4, $5)",
        [(symbol, post.seq, row["post_id"], sentiment, post.created_at) for symbol in post.symbols],
    )
    return post


async def get_post(conn: asyncpg.Connection, post_id: UUID) -> Post | None:
    row = await conn.fetchrow(f"SELECT {_POST_COLUMNS} FROM posts p WHERE p.post_id = $1", post_id)
    return None if row is None else _post(row)


async def list_posts(
    conn: asyncpg.Connection, symbol: str, *, before_seq: int | None, limit: int
) -> list[Post]:
    """A ticker's feed, newest first: posts on it and posts mentioning it."""
    rows = await conn.fetch(
        f"SELECT {_POST_COLUMNS} FROM post_symbols s JOIN posts p ON p.post_id = s.post_id"
        " WHERE s.symbol = $1 AND ($2::bigint IS NULL OR s.post_seq < $2)"
        " ORDER BY s.post_seq DESC LIMIT $3",
        symbol,
        before_seq,
        limit,
    )
    return [_post(row) for row in rows]


async def insert_comment(
    conn: asyncpg.Connection,
    *,
    post_id: UUID,
    user_id: str,
    text: str,
    cashtags: list[str],
    sentiment: float,
) -> Comment | None:
    """Inserts a comment and counts it on its post; None when there is no such post."""
    counted = await conn.fetchval(
        "UPDATE posts SET comment_count = comment_count + 1 WHERE post_id = $1 RETURNING true",
        post_id,
    )
    if not counted:
        return None
    await conn.execute("SELECT pg_advisory_xact_lock($1, $2)", _LOCK_NAMESPACE, _COMMENTS_LOCK)
    row = await conn.fetchrow(
        "INSERT INTO comments (post_id, user_id, text, cashtags, sentiment, created_at)"
        " VALUES ($1, $2, $3, $4, $5, clock_timestamp())"
        f" RETURNING {_COMMENT_COLUMNS}",
        post_id,
        user_id,
        text,
        cashtags,
        sentiment,
    )
    return _comment(row)


async def list_comments(
    conn: asyncpg.Connection, post_id: UUID, *, after_seq: int | None, limit: int
) -> list[Comment]:
    """A post's comments, oldest first (a conversation reads top to bottom)."""
    rows = await conn.fetch(
        f"SELECT {_COMMENT_COLUMNS} FROM comments"
        " WHERE post_id = $1 AND ($2::bigint IS NULL OR seq > $2)"
        " ORDER BY seq LIMIT $3",
        post_id,
        after_seq,
        limit,
    )
    return [_comment(row) for row in rows]


async def like_post(conn: asyncpg.Connection, post_id: UUID, user_id: str) -> tuple[int, bool]:
    """Records the like once per user; (like count, whether it was new). LookupError: no post."""
    newly = await conn.fetchval(
        "INSERT INTO likes (post_id, user_id) SELECT post_id, $2 FROM posts WHERE post_id = $1"
        " ON CONFLICT DO NOTHING RETURNING true",
        post_id,
        user_id,
    )
    if newly:
        count = await conn.fetchval(
            "UPDATE posts SET like_count = like_count + 1 WHERE post_id = $1 RETURNING like_count",
            post_id,
        )
    else:
        count = await conn.fetchval("SELECT like_count FROM posts WHERE post_id = $1", post_id)
    if count is None:
        raise LookupError(str(post_id))
    return count, bool(newly)


async def sentiment_buckets(
    conn: asyncpg.Connection,
    symbol: str,
    *,
    width: timedelta,
    start: datetime,
    end: datetime,
) -> list[SentimentBucket]:
    """Posts in the ticker's feed per bucket of `width` in [start, end), oldest first.

    Buckets are aligned to the Unix epoch, so hourly buckets start on the hour (UTC).
    """
    rows = await conn.fetch(
        "SELECT date_bin($2::interval, created_at, 'epoch'::timestamptz) AS start,"
        " count(*) AS post_count, avg(sentiment) AS mean_sentiment,"
        " count(*) FILTER (WHERE sentiment >= $5) AS positive_count,"
        " count(*) FILTER (WHERE sentiment <= $6) AS negative_count"
        " FROM post_symbols WHERE symbol = $1 AND created_at >= $3 AND created_at < $4"
        " GROUP BY 1 ORDER BY 1",
        symbol,
        width,
        start,
        end,
        POSITIVE_THRESHOLD,
        NEGATIVE_THRESHOLD,
    )
    return [
        SentimentBucket(
            start=row["start"],
            post_count=row["post_count"],
            mean_sentiment=row["mean_sentiment"],
            positive_count=row["positive_count"],
            negative_count=row["negative_count"],
        )
        for row in rows
    ]
