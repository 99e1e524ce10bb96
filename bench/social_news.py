"""Social and news services in-process on a real PostgreSQL and Redis: write and read rates
through gRPC, and the per-item CPU cost of scoring, rendering, canonicalising and tagging.

    uv run python bench/social_news.py [--posts 2000] [--concurrency 16]

Prints one JSON object. Bounded: a fixed number of requests, each phase capped at 60 s.
"""

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from machine import machine

from trademesh.news.v1 import news_pb2, news_pb2_grpc
from trademesh.social.v1 import social_pb2, social_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import create_channel
from trademesh_devstack.stack import AttachedStack, DevStack
from trademesh_news.app import NewsApp
from trademesh_news.settings import NewsSettings
from trademesh_news.tagging import tag_symbols
from trademesh_news.urls import canonical_url
from trademesh_social.app import SocialApp
from trademesh_social.rendering import render_html
from trademesh_social.sentiment import sentiment_score
from trademesh_social.settings import SocialSettings

PHASE_LIMIT_SECONDS = 60.0
TEXT = "Loving $AAPL after earnings, see https://example.com/q3?x=1 <b>not bold</b> :)"


def per_call_us(function: Callable[[], Any], count: int = 2000) -> float:
    start = time.perf_counter()
    for _ in range(count):
        function()
    return round((time.perf_counter() - start) / count * 1e6, 1)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": at(1.0)}


async def drive(
    count: int, concurrency: int, call: Callable[[int], Awaitable[Any]]
) -> dict[str, Any]:
    latencies: list[float] = []
    deadline = time.monotonic() + PHASE_LIMIT_SECONDS
    next_index = iter(range(count))

    async def worker() -> None:
        for index in next_index:
            if time.monotonic() > deadline:
                return
            start = time.perf_counter()
            await call(index)
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    return {
        "requests": len(latencies),
        "per_second": round(len(latencies) / elapsed),
        **percentiles(latencies),
    }


async def run(env: dict[str, str], stack: Any, posts: int, concurrency: int) -> dict[str, Any]:
    social_app = SocialApp(
        SocialSettings(
            postgres_dsn=stack.create_database(f"bench_social_{uuid.uuid4().hex[:6]}"),
            redis_url=env["TRADEMESH_REDIS_URL"],
            grpc_port=0,
            log_level="WARNING",
            posts_per_minute=1_000_000,
        ),
        Health(),
    )
    news_app = NewsApp(
        NewsSettings(
            postgres_dsn=stack.create_database(f"bench_news_{uuid.uuid4().hex[:6]}"),
            grpc_port=0,
            log_level="WARNING",
        ),
        Health(),
    )
    await social_app.start()
    await news_app.start()
    social_channel = create_channel(f"127.0.0.1:{social_app.grpc_port}", TlsSettings())
    news_channel = create_channel(f"127.0.0.1:{news_app.grpc_port}", TlsSettings())
    social = social_pb2_grpc.SocialServiceStub(social_channel)
    news = news_pb2_grpc.NewsServiceStub(news_channel)
    try:
        while not (await news.ListArticles(news_pb2.ListArticlesRequest(limit=1))).articles:
            await asyncio.sleep(0.1)

        async def create(index: int) -> None:
            await social.CreatePost(
                social_pb2.CreatePostRequest(user_id=f"u{index}", symbol="AAPL", text=TEXT)
            )

        async def read_feed(_: int) -> None:
            await social.ListPosts(social_pb2.ListPostsRequest(symbol="AAPL", limit=20))

        async def search(_: int) -> None:
            await news.SearchArticles(news_pb2.SearchArticlesRequest(query="cloud growth"))

        return {
            "create_post": await drive(posts, concurrency, create),
            "list_posts_page_20": await drive(posts, concurrency, read_feed),
            "news_search": await drive(posts, concurrency, search),
        }
    finally:
        await social_channel.close()
        await news_channel.close()
        await social_app.stop()
        await news_app.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    cpu = {
        "sentiment_us": per_call_us(lambda: sentiment_score(TEXT)),
        "render_html_us": per_call_us(lambda: render_html(TEXT)),
        "canonical_url_us": per_call_us(
            lambda: canonical_url("HTTPS://News.Example/a/b/?utm_source=x&id=3#top")
        ),
        "tag_symbols_us": per_call_us(
            lambda: tag_symbols("Apple and Microsoft lead; $NVDA slips", "Coca-Cola (NYSE: KO)")
        ),
    }
    env_file = os.environ.get("TRADEMESH_DEVSTACK_ENV_FILE")
    if env_file:
        stack: Any = AttachedStack.from_env_file(Path(env_file))
        result = asyncio.run(run(stack.env(), stack, args.posts, args.concurrency))
    else:
        with DevStack() as owned:
            result = asyncio.run(run(owned.env(), owned, args.posts, args.concurrency))
    print(json.dumps({"benchmark": "social_news", "cpu": cpu, **result, "machine": machine()}))


if __name__ == "__main__":
    main()
