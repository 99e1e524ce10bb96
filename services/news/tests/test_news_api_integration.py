"""The news service in-process: its ingestion loop fills a real PostgreSQL from the sample
corpus and a local feed server; the gRPC API lists and searches what it stored."""

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
import pytest

from trademesh.news.v1 import news_pb2, news_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import create_channel
from trademesh_news.app import NewsApp
from trademesh_news.settings import NewsSettings
from trademesh_news.sources import SAMPLE_SOURCE, Source, SourceKind

pytestmark = pytest.mark.integration

SAMPLE_ARTICLES = 22
FEED_ARTICLES = 2  # atom.xml


@pytest.fixture(scope="module")
async def news(devstack, feed_server) -> AsyncIterator[news_pb2_grpc.NewsServiceStub]:
    settings = NewsSettings(
        postgres_dsn=devstack.create_database(f"news_api_{time.time_ns()}"),
        grpc_host="127.0.0.1",
        grpc_port=0,
        news_sources=[
            SAMPLE_SOURCE,
            Source(name="atom", kind=SourceKind.FEED, url=feed_server.url("atom.xml")),
            Source(name="broken", kind=SourceKind.FEED, url=feed_server.url("truncated.xml")),
        ],
        ingest_poll_seconds=0.2,
    )
    app = NewsApp(settings, Health())
    await app.start()
    channel = create_channel(f"127.0.0.1:{app.grpc_port}", TlsSettings())
    stub = news_pb2_grpc.NewsServiceStub(channel)
    try:
        deadline = time.monotonic() + 30
        while True:
            reply = await stub.ListArticles(news_pb2.ListArticlesRequest(limit=100))
            if len(reply.articles) == SAMPLE_ARTICLES + FEED_ARTICLES:
                break
            assert time.monotonic() < deadline, "ingestion did not fill the database"
            await asyncio.sleep(0.1)
        yield stub
    finally:
        await channel.close()
        await app.stop()


async def test_list_is_newest_first_and_filters_by_symbols(news):
    everything = await news.ListArticles(news_pb2.ListArticlesRequest(limit=100))
    times = [article.published_at_us for article in everything.articles]
    assert times == sorted(times, reverse=True)
    reply = await news.ListArticles(news_pb2.ListArticlesRequest(symbols=["ko", "V"]))
    assert reply.articles
    assert all({"KO", "V"} & set(article.symbols) for article in reply.articles)
    titles = {article.title for article in reply.articles}
    assert "Coca-Cola raises dividend" in titles  # from the feed
    assert "Visa reports record cross-border payment volumes" in titles  # from the sample
    sample = [article for article in reply.articles if article.sample]
    assert sample and all(article.source == "Sample corpus" for article in sample)


async def test_paging_visits_every_article_once(news):
    seen, token = [], ""
    while True:
        page = await news.ListArticles(news_pb2.ListArticlesRequest(limit=5, page_token=token))
        seen.extend(article.article_id for article in page.articles)
        token = page.next_page_token
        if not token:
            break
    assert len(seen) == len(set(seen)) == SAMPLE_ARTICLES + FEED_ARTICLES


async def test_a_token_is_refused_for_another_filter(news):
    page = await news.ListArticles(news_pb2.ListArticlesRequest(limit=1, symbols=["AAPL"]))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await news.ListArticles(
            news_pb2.ListArticlesRequest(symbols=["MSFT"], page_token=page.next_page_token)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_search_ranks_title_matches_first(news):
    reply = await news.SearchArticles(news_pb2.SearchArticlesRequest(query="cloud"))
    titles = [result.article.title for result in reply.results]
    assert titles[0] == "Microsoft lifts cloud guidance on AI demand"
    ranks = [result.rank for result in reply.results]
    assert ranks == sorted(ranks, reverse=True)
    assert len(titles) >= 2  # the earnings preview mentions cloud growth in its summary


async def test_search_understands_web_search_syntax(news):
    phrase = await news.SearchArticles(news_pb2.SearchArticlesRequest(query='"price increases"'))
    assert [r.article.title for r in phrase.results] == [
        "Coca-Cola raises prices again as volumes hold up"
    ]
    excluded = await news.SearchArticles(news_pb2.SearchArticlesRequest(query="Tesla -recall"))
    titles = {r.article.title for r in excluded.results}
    assert titles and not any("recall" in title.lower() for title in titles)
    either = await news.SearchArticles(news_pb2.SearchArticlesRequest(query="dividend or fined"))
    assert {r.article.title for r in either.results} == {
        "Coca-Cola raises dividend",
        "Meta fined over data transfers; company to appeal",
    }
    scoped = await news.SearchArticles(
        news_pb2.SearchArticlesRequest(query="trading", symbols=["JPM"])
    )
    assert [r.article.title for r in scoped.results] == [
        "JPMorgan Chase beats estimates as trading revenue jumps"
    ]


@pytest.mark.parametrize(
    "query", ["(((", "'", "a & | ! <->", "-", "'; DROP TABLE articles; --", "the"]
)
async def test_hostile_or_empty_searches_answer_not_crash(news, query):
    reply = await news.SearchArticles(news_pb2.SearchArticlesRequest(query=query))
    assert isinstance(len(reply.results), int)


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (news_pb2.SearchArticlesRequest(query="  "), "must not be empty"),
        (news_pb2.SearchArticlesRequest(query="x" * 201), "longer than"),
        (news_pb2.SearchArticlesRequest(query="ok", symbols=["$$$"]), "not a symbol"),
        (news_pb2.SearchArticlesRequest(query="ok", limit=-1), "negative"),
    ],
)
async def test_bad_searches_are_refused(news, request_, message):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await news.SearchArticles(request_)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in raised.value.details()
