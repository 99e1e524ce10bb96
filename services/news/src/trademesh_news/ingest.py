"""Ingestion: fetch the sources that are due, turn documents into articles, store new ones.

Nothing a source sends can stop ingestion: an unusable document or item becomes a
dead-letter row (and a log line), the rest of the document and the other sources go on.
"""

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

from trademesh_news import store
from trademesh_news.adapters.feeds import parse_feed
from trademesh_news.adapters.newsapi import parse_newsapi
from trademesh_news.drafts import EXCERPT_CHARS, Draft, FeedError, Parsed
from trademesh_news.fetch import Fetcher
from trademesh_news.metrics import ARTICLES, FETCHES
from trademesh_news.records import NewArticle
from trademesh_news.refresh import RefreshPolicy
from trademesh_news.sources import Source, SourceKind
from trademesh_news.tagging import tag_symbols
from trademesh_news.urls import InvalidUrl, canonical_url

log = logging.getLogger(__name__)

_PARSERS: dict[SourceKind, Callable[[bytes], Parsed]] = {
    SourceKind.FEED: parse_feed,
    SourceKind.NEWSAPI: parse_newsapi,
}


@dataclass
class SourceReport:
    source: str
    fetched: bool = False
    added: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    error: str | None = None
    newest: datetime | None = field(default=None, repr=False)


def _now() -> datetime:
    return datetime.now(UTC)


class Ingestor:
    def __init__(
        self,
        pool: asyncpg.Pool,
        fetcher: Fetcher,
        sources: list[Source],
        policy: RefreshPolicy,
        workers: int,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._pool = pool
        self._fetcher = fetcher
        self._sources = sources
        self._policy = policy
        self._slots = asyncio.Semaphore(workers)
        self._clock = clock

    async def register_sources(self) -> None:
        async with self._pool.acquire() as conn:
            for source in self._sources:
                await store.register_source(conn, source)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        await self.register_sources()
        while not stop.is_set():
            await self.run_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), poll_seconds)

    async def run_once(self) -> list[SourceReport]:
        """One pass over the sources: each due one is fetched, by up to `workers` at a time."""
        return list(await asyncio.gather(*(self._guarded(source) for source in self._sources)))

    async def _guarded(self, source: Source) -> SourceReport:
        async with self._slots:
            try:
                return await self.ingest(source)
            except (OSError, asyncpg.PostgresError) as error:
                # The database went away mid-pass: the next pass retries this source.
                log.error(
                    "ingestion pass failed", extra={"source": source.name, "error": repr(error)}
                )
                return SourceReport(source.name, error=repr(error))

    async def ingest(self, source: Source) -> SourceReport:
        """Fetches the source if it is due and stores what it holds."""
        report = SourceReport(source.name)
        now = self._clock()
        async with self._pool.acquire() as conn:
            if not await store.claim_if_due(conn, source.name, self._policy, now):
                return report
        report.fetched = True
        try:
            parsed = _PARSERS[source.kind](await self._fetcher.fetch(source))
        except FeedError as error:
            report.error = str(error)
            FETCHES.labels(source.name, "failed").inc()
            log.warning("source unusable", extra={"source": source.name, "reason": str(error)})
            async with self._pool.acquire() as conn:
                await store.dead_letter(conn, source.name, str(error), source.url[:EXCERPT_CHARS])
                await store.record_outcome(conn, source.name, None, report.error)
            return report
        FETCHES.labels(source.name, "ok").inc()
        async with self._pool.acquire() as conn:
            for refused in parsed.refused:
                await self._dead_letter(conn, source, report, refused.reason, refused.excerpt)
            for draft in parsed.drafts:
                await self._store_draft(conn, source, draft, now, report)
            await store.record_outcome(conn, source.name, report.newest, None)
        log.info(
            "source ingested",
            extra={
                "source": source.name,
                "added": report.added,
                "duplicates": report.duplicates,
                "dead_lettered": report.dead_lettered,
            },
        )
        return report

    async def _store_draft(
        self,
        conn: asyncpg.Connection,
        source: Source,
        draft: Draft,
        now: datetime,
        report: SourceReport,
    ) -> None:
        try:
            url = canonical_url(draft.url)
        except InvalidUrl as error:
            await self._dead_letter(conn, source, report, str(error), repr(draft))
            return
        # A date in the future (a feed's clock or typo) would pin the article to the top.
        published = min(draft.published_at or now, now)
        article = NewArticle(
            url=url,
            title=draft.title,
            summary=draft.summary,
            source=source.name,
            symbols=tag_symbols(draft.title, draft.summary),
            published_at=published,
            sample=source.is_sample,
        )
        if await store.insert_article(conn, article, now):
            report.added += 1
            ARTICLES.labels(source.name, "added").inc()
        else:
            report.duplicates += 1
            ARTICLES.labels(source.name, "duplicate").inc()
        if report.newest is None or published > report.newest:
            report.newest = published

    async def _dead_letter(
        self,
        conn: asyncpg.Connection,
        source: Source,
        report: SourceReport,
        reason: str,
        excerpt: str,
    ) -> None:
        report.dead_lettered += 1
        ARTICLES.labels(source.name, "dead_lettered").inc()
        log.warning("item dead-lettered", extra={"source": source.name, "reason": reason})
        await store.dead_letter(conn, source.name, reason, excerpt[:EXCERPT_CHARS])
