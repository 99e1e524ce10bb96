"""News per ticker and full-text search (NewsService)."""

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import FastAPI, Query

from trademesh.news.v1 import news_pb2
from trademesh_gateway.backends import Backends
from trademesh_gateway.errors import ApiError
from trademesh_gateway.openapi_docs import error_responses
from trademesh_gateway.routes import API_PREFIX
from trademesh_gateway.routes.params import SYMBOL_PATTERN, PageTokenParam
from trademesh_gateway.schemas.news import Article, ArticlePage, SearchResult, SearchResults

NEWS_PATH = f"{API_PREFIX}/news"
MAX_SYMBOLS = 20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SYMBOL = re.compile(SYMBOL_PATTERN)

Symbols = Annotated[
    str | None,
    Query(
        max_length=400,
        description="Comma-separated tickers, e.g. `AAPL,MSFT`: articles about any of them.",
        examples=["AAPL,MSFT"],
    ),
]
Limit = Annotated[int, Query(ge=1, le=100, description="How many articles.")]


def _symbols(raw: str | None) -> list[str]:
    if raw is None:
        return []
    symbols = [part.strip() for part in raw.split(",") if part.strip()]
    if len(symbols) > MAX_SYMBOLS:
        raise ApiError(400, "invalid_argument", f"symbols: at most {MAX_SYMBOLS} at once")
    for symbol in symbols:
        if len(symbol) > 32 or not _SYMBOL.fullmatch(symbol):
            raise ApiError(400, "invalid_argument", f"symbols: not a symbol: {symbol[:32]!r}")
    return symbols


def _article(article: news_pb2.Article) -> Article:
    return Article(
        article_id=article.article_id,
        url=article.url,
        title=article.title,
        summary=article.summary,
        source=article.source,
        symbols=list(article.symbols),
        published_at=_EPOCH + timedelta(microseconds=article.published_at_us),
        sample=article.sample,
    )


def add_news_routes(app: FastAPI, backends: Backends) -> None:
    @app.get(
        NEWS_PATH,
        tags=["news"],
        summary="Latest news, newest first, optionally for some tickers",
        description="Articles from the configured feeds; by default the bundled sample corpus "
        "(fictional, flagged `sample: true`).",
        responses=error_responses(),
    )
    async def list_news(
        symbols: Symbols = None,
        limit: Limit = 20,
        page_token: PageTokenParam = None,
    ) -> ArticlePage:
        reply = await backends.news.ListArticles(
            news_pb2.ListArticlesRequest(
                symbols=_symbols(symbols), limit=limit, page_token=page_token or ""
            ),
            timeout=backends.call_timeout,
        )
        return ArticlePage(
            articles=[_article(article) for article in reply.articles],
            next_page_token=reply.next_page_token or None,
        )

    @app.get(
        NEWS_PATH + "/search",
        tags=["news"],
        summary="Full-text search over titles and summaries, best match first",
        description='Web-search syntax: words, `"exact phrases"`, `-excluded`, `or`.',
        responses=error_responses(),
    )
    async def search_news(
        q: Annotated[str, Query(min_length=1, max_length=200, description="What to look for.")],
        symbols: Symbols = None,
        limit: Limit = 20,
    ) -> SearchResults:
        reply = await backends.news.SearchArticles(
            news_pb2.SearchArticlesRequest(query=q, symbols=_symbols(symbols), limit=limit),
            timeout=backends.call_timeout,
        )
        return SearchResults(
            results=[
                SearchResult(article=_article(result.article), rank=result.rank)
                for result in reply.results
            ]
        )
