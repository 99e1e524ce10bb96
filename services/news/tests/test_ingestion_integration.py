"""Ingestion against a local HTTP server serving RSS, Atom, provider JSON and broken
documents, into a real PostgreSQL."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from trademesh_news.fetch import Fetcher
from trademesh_news.ingest import Ingestor
from trademesh_news.refresh import RefreshPolicy
from trademesh_news.sources import SAMPLE_SOURCE, Source, SourceKind

pytestmark = pytest.mark.integration

START = datetime(2026, 11, 4, 12, tzinfo=UTC)
POLICY = RefreshPolicy(max_age=timedelta(hours=6), min_interval=timedelta(minutes=1))


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def http() -> httpx.AsyncClient:
    async with httpx.AsyncClient(timeout=5, follow_redirects=True, max_redirects=3) as client:
        yield client


def make_ingestor(pool, http, sources, clock=None, max_bytes=1_000_000) -> Ingestor:
    return Ingestor(pool, Fetcher(http, max_bytes), sources, POLICY, 4, clock or Clock())


async def articles(pool) -> dict[str, dict]:
    rows = await pool.fetch(
        "SELECT canonical_url, title, summary, source, symbols, published_at, sample FROM articles"
    )
    return {row["canonical_url"]: dict(row) for row in rows}


async def dead_letters(pool) -> list[tuple[str, str]]:
    rows = await pool.fetch("SELECT source, reason FROM dead_letters ORDER BY id")
    return [(row["source"], row["reason"]) for row in rows]


async def test_rss_atom_and_provider_json_are_ingested_tagged_and_deduplicated(
    news_pool, http, feed_server, news_api_key
):
    sources = [
        Source(name="rss", kind=SourceKind.FEED, url=feed_server.url("rss.xml")),
        Source(name="atom", kind=SourceKind.FEED, url=feed_server.url("atom.xml")),
        Source(
            name="api",
            kind=SourceKind.NEWSAPI,
            url=feed_server.url("newsapi.json?q=stocks"),
            api_key_env=news_api_key,
        ),
        # The same RSS again through a redirect: every article is a duplicate.
        Source(name="rss-again", kind=SourceKind.FEED, url=feed_server.url("moved")),
    ]
    ingestor = make_ingestor(news_pool, http, sources)
    await ingestor.register_sources()
    reports = {report.source: report for report in await ingestor.run_once()}
    assert feed_server.api_keys[-1] == "fixture-key"
    # The two RSS sources run concurrently: whichever stores an article first adds it.
    rss = (reports["rss"], reports["rss-again"])
    assert [report.dead_lettered for report in rss] == [2, 2]
    assert sum(report.added for report in rss) == 3
    assert sum(report.duplicates for report in rss) == 3
    assert (reports["atom"].added, reports["atom"].dead_lettered) == (2, 1)
    assert (reports["api"].added, reports["api"].dead_lettered) == (2, 2)

    stored = await articles(news_pool)
    assert len(stored) == 7
    nvidia = stored["https://rss.fixture.example/story/nvidia-microsoft"]
    assert nvidia["title"] == "Nvidia & Microsoft expand AI partnership"
    assert nvidia["summary"] == "The companies will co-develop accelerated cloud instances."
    assert nvidia["symbols"] == ["MSFT", "NVDA"]
    assert nvidia["published_at"] == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
    assert nvidia["sample"] is False
    assert stored["https://atom.fixture.example/posts/ko-dividend"]["symbols"] == ["KO"]
    assert stored["https://atom.fixture.example/posts/visa-amazon"]["symbols"] == ["AMZN", "V"]
    assert stored["https://api.fixture.example/articles/apple-supplier?id=7"]["symbols"] == ["AAPL"]
    # An undated item is dated when it was fetched.
    assert stored["https://rss.fixture.example/story/tesla-undated"]["published_at"] == START
    reasons = [reason for _, reason in await dead_letters(news_pool)]
    assert any("without a link" in reason for reason in reasons)
    assert any("only http(s) URLs" in reason for reason in reasons)  # the javascript: link


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("billion_laughs.xml", "forbidden XML construct"),
        ("external_entity.xml", "forbidden XML construct"),
        ("truncated.xml", "not well-formed XML"),
        ("not_a_feed.html", "not well-formed XML"),
        ("status/500", "HTTP 500"),
        ("missing.xml", "HTTP 404"),
        ("huge.xml", "larger than"),
    ],
)
async def test_unusable_documents_are_dead_lettered_and_others_go_on(
    news_pool, http, feed_server, path, reason
):
    sources = [
        Source(name="broken", kind=SourceKind.FEED, url=feed_server.url(path)),
        Source(name="atom", kind=SourceKind.FEED, url=feed_server.url("atom.xml")),
    ]
    ingestor = make_ingestor(news_pool, http, sources)
    await ingestor.register_sources()
    reports = {report.source: report for report in await ingestor.run_once()}
    assert reports["broken"].fetched and reason in reports["broken"].error
    assert reports["atom"].added == 2
    letters = await dead_letters(news_pool)
    assert ("broken", reports["broken"].error) in letters
    row = await news_pool.fetchrow("SELECT last_error FROM sources WHERE name = 'broken'")
    assert reason in row["last_error"]


async def test_unreachable_source_and_provider_error(news_pool, http, feed_server, news_api_key):
    sources = [
        Source(name="nobody", kind=SourceKind.FEED, url="http://127.0.0.1:9/feed.xml"),
        Source(
            name="api-error", kind=SourceKind.NEWSAPI, url=feed_server.url("newsapi_error.json")
        ),
        Source(
            name="no-key",
            kind=SourceKind.NEWSAPI,
            url=feed_server.url("newsapi.json"),
            api_key_env="TRADEMESH_TEST_UNSET_KEY",
        ),
    ]
    ingestor = make_ingestor(news_pool, http, sources)
    await ingestor.register_sources()
    reports = {report.source: report for report in await ingestor.run_once()}
    assert "fetch failed" in reports["nobody"].error
    assert "provider error apiKeyInvalid" in reports["api-error"].error
    assert "TRADEMESH_TEST_UNSET_KEY is not set" in reports["no-key"].error
    assert len(await dead_letters(news_pool)) == 3


async def test_refresh_policy_fetches_again_only_when_news_is_stale(news_pool, http, feed_server):
    path = "atom.xml"
    source = Source(name="atom-refresh", kind=SourceKind.FEED, url=feed_server.url(path))
    clock = Clock()
    ingestor = make_ingestor(news_pool, http, [source], clock)
    await ingestor.register_sources()
    hits = lambda: feed_server.hits[f"/{path}"]  # noqa: E731
    before = hits()

    # The newest atom entry is from 2026-11-03 09:15; at START (11-04 12:00) that is stale.
    clock.now = datetime(2026, 11, 3, 10, tzinfo=UTC)  # newest is 45 minutes old then
    assert (await ingestor.run_once())[0].fetched
    assert hits() == before + 1
    clock.now += timedelta(minutes=30)  # newest now 75 min old: fresh enough
    assert not (await ingestor.run_once())[0].fetched
    clock.now += timedelta(hours=5)  # newest 6h15 old: stale, fetch again
    report = (await ingestor.run_once())[0]
    assert report.fetched and report.duplicates == 2 and report.added == 0
    assert not (await ingestor.run_once())[0].fetched  # within the minimum interval
    clock.now += timedelta(minutes=1)
    assert (await ingestor.run_once())[0].fetched  # still stale: once per interval
    assert hits() == before + 3


async def test_sample_corpus_is_the_default_source_and_labelled(news_pool, http):
    ingestor = make_ingestor(news_pool, http, [SAMPLE_SOURCE])
    await ingestor.register_sources()
    report = (await ingestor.run_once())[0]
    assert report.added == 22 and report.duplicates == 1 and report.dead_lettered == 0
    stored = await articles(news_pool)
    assert all(article["sample"] for article in stored.values())
    assert all(article["source"] == "Sample corpus" for article in stored.values())
    tagged = {symbol for article in stored.values() for symbol in article["symbols"]}
    assert tagged == {"AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "KO"}
