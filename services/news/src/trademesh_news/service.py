"""The NewsService gRPC API: listing and searching stored articles."""

import re
from datetime import UTC, datetime

import asyncpg
import grpc

from trademesh.news.v1 import news_pb2, news_pb2_grpc
from trademesh_common import paging
from trademesh_news import store
from trademesh_news.records import Article

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_SYMBOLS = 20
MAX_QUERY_CHARS = 200
_SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")


class InvalidRequest(Exception):
    pass


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def article_message(article: Article) -> news_pb2.Article:
    return news_pb2.Article(
        article_id=article.article_id,
        url=article.url,
        title=article.title,
        summary=article.summary,
        source=article.source,
        symbols=article.symbols,
        published_at_us=_us(article.published_at),
        sample=article.sample,
    )


def _symbols(raw: list[str]) -> list[str] | None:
    if len(raw) > MAX_SYMBOLS:
        raise InvalidRequest(f"at most {MAX_SYMBOLS} symbols at once")
    symbols = sorted({symbol.strip().upper() for symbol in raw})
    for symbol in symbols:
        if not _SYMBOL.fullmatch(symbol):
            raise InvalidRequest(f"not a symbol: {symbol[:32]!r}")
    return symbols or None


def _page_size(requested: int) -> int:
    try:
        return paging.page_size(requested, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    except ValueError as error:
        raise InvalidRequest(str(error)) from None


class NewsServicer(news_pb2_grpc.NewsServiceServicer):
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ListArticles(
        self, request: news_pb2.ListArticlesRequest, context: grpc.aio.ServicerContext
    ) -> news_pb2.ListArticlesResponse:
        try:
            symbols = _symbols(list(request.symbols))
            size = _page_size(request.limit)
            listing = "news:" + ",".join(symbols or [])
            position = paging.decode_page_token(listing, request.page_token, 2)
        except (InvalidRequest, paging.InvalidPageToken) as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        before = None
        if position is not None:
            before = (datetime.fromtimestamp(position[0] / 1_000_000, UTC), position[1])
        async with self._pool.acquire() as conn:
            # One extra row tells whether another page follows.
            articles = await store.list_articles(conn, symbols, before=before, limit=size + 1)
        page = articles[:size]
        token = ""
        if len(articles) > size:
            token = paging.encode_page_token(listing, _us(page[-1].published_at), page[-1].seq)
        return news_pb2.ListArticlesResponse(
            articles=[article_message(article) for article in page], next_page_token=token
        )

    async def SearchArticles(
        self, request: news_pb2.SearchArticlesRequest, context: grpc.aio.ServicerContext
    ) -> news_pb2.SearchArticlesResponse:
        query = request.query.strip()
        try:
            if not query:
                raise InvalidRequest("query must not be empty")
            if len(query) > MAX_QUERY_CHARS:
                raise InvalidRequest(f"query is longer than {MAX_QUERY_CHARS} characters")
            if "\x00" in query:
                raise InvalidRequest("query contains a NUL character")
            symbols = _symbols(list(request.symbols))
            size = _page_size(request.limit)
        except InvalidRequest as error:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
        async with self._pool.acquire() as conn:
            found = await store.search_articles(conn, query, symbols, size)
        return news_pb2.SearchArticlesResponse(
            results=[
                news_pb2.SearchResult(article=article_message(article), rank=rank)
                for article, rank in found
            ]
        )
