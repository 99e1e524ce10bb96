"""SQL for the news tables. Functions take a connection so callers own the transaction."""

from datetime import datetime

import asyncpg

from trademesh_news.records import Article, NewArticle
from trademesh_news.refresh import RefreshPolicy
from trademesh_news.sources import Source

_ARTICLE_COLUMNS = (
    "seq, article_id, canonical_url, title, summary, source, symbols, published_at, sample"
)


def _article(row: asyncpg.Record) -> Article:
    return Article(
        seq=row["seq"],
        article_id=str(row["article_id"]),
        url=row["canonical_url"],
        title=row["title"],
        summary=row["summary"],
        source=row["source"],
        symbols=list(row["symbols"]),
        published_at=row["published_at"],
        sample=row["sample"],
    )


async def register_source(conn: asyncpg.Connection, source: Source) -> None:
    await conn.execute(
        "INSERT INTO sources (name, kind, url) VALUES ($1, $2, $3)"
        " ON CONFLICT (name) DO UPDATE SET kind = EXCLUDED.kind, url = EXCLUDED.url",
        source.name,
        source.kind.value,
        source.url,
    )


async def claim_if_due(
    conn: asyncpg.Connection, name: str, policy: RefreshPolicy, now: datetime
) -> bool:
    """Marks the source as being fetched now if the policy says it is due.

    Row-locked and skipping rows another replica holds, so one fetch per source at a time.
    """
    async with conn.transaction():
        row = await conn.fetchrow(
            "SELECT last_fetched_at, newest_published_at FROM sources WHERE name = $1"
            " FOR UPDATE SKIP LOCKED",
            name,
        )
        if row is None or not policy.due(now, row["last_fetched_at"], row["newest_published_at"]):
            return False
        await conn.execute(
            "UPDATE sources SET last_fetched_at = $2, fetch_count = fetch_count + 1"
            " WHERE name = $1",
            name,
            now,
        )
    return True


async def record_outcome(
    conn: asyncpg.Connection, name: str, newest: datetime | None, error: str | None
) -> None:
    await conn.execute(
        "UPDATE sources SET last_error = $3,"
        " newest_published_at = GREATEST(newest_published_at, $2) WHERE name = $1",
        name,
        newest,
        error,
    )


async def insert_article(
    conn: asyncpg.Connection, article: NewArticle, fetched_at: datetime
) -> bool:
    """False when an article with the same canonical URL is already stored."""
    inserted = await conn.fetchval(
        "INSERT INTO articles (canonical_url, title, summary, source, symbols, published_at,"
        " fetched_at, sample) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " ON CONFLICT (canonical_url) DO NOTHING RETURNING true",
        article.url,
        article.title,
        article.summary,
        article.source,
        article.symbols,
        article.published_at,
        fetched_at,
        article.sample,
    )
    return bool(inserted)


async def dead_letter(conn: asyncpg.Connection, source: str, reason: str, excerpt: str) -> None:
    await conn.execute(
        "INSERT INTO dead_letters (source, reason, excerpt) VALUES ($1, $2, $3)",
        source,
        reason,
        excerpt,
    )


async def list_articles(
    conn: asyncpg.Connection,
    symbols: list[str] | None,
    *,
    before: tuple[datetime, int] | None,
    limit: int,
) -> list[Article]:
    """Newest first; with symbols, only articles tagged with at least one of them."""
    rows = await conn.fetch(
        f"SELECT {_ARTICLE_COLUMNS} FROM articles"
        " WHERE ($1::text[] IS NULL OR symbols && $1)"
        " AND ($2::timestamptz IS NULL OR (published_at, seq) < ($2, $3))"
        " ORDER BY published_at DESC, seq DESC LIMIT $4",
        symbols,
        before[0] if before else None,
        before[1] if before else None,
        limit,
    )
    return [_article(row) for row in rows]


async def search_articles(
    conn: asyncpg.Connection, query: str, symbols: list[str] | None, limit: int
) -> list[tuple[Article, float]]:
    """Best match first (title words weigh more than summary words), then newest."""
    rows = await conn.fetch(
        f"SELECT {_ARTICLE_COLUMNS}, ts_rank_cd(search, query) AS rank"
        " FROM articles, websearch_to_tsquery('english', $1) AS query"
        " WHERE search @@ query AND ($2::text[] IS NULL OR symbols && $2)"
        " ORDER BY rank DESC, published_at DESC, seq DESC LIMIT $3",
        query,
        symbols,
        limit,
    )
    return [(_article(row), row["rank"]) for row in rows]
