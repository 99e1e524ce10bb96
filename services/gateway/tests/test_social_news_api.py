"""The social and news routes against contract doubles of SocialService and NewsService:
request validation, mapping, identity, and how the services' refusals reach the caller."""

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from trademesh.news.v1 import news_pb2, news_pb2_grpc
from trademesh.social.v1 import social_pb2, social_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.rpc import GrpcServer

from .conftest import CREATED_US

POST_ID = "5b0e7c1e-8a3b-4f6e-9d51-0c2f4a7b9e10"


@dataclass
class Calls:
    requests: dict[str, list[Any]] = field(default_factory=dict)
    failures: dict[str, tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]] = field(
        default_factory=dict
    )

    def fail_next(self, method, code, details, metadata=()):
        self.failures[method] = (code, details, metadata)

    async def enter(self, method, request, context):
        self.requests.setdefault(method, []).append(request)
        if method in self.failures:
            code, details, metadata = self.failures.pop(method)
            await context.abort(code, details, trailing_metadata=metadata)


def a_post(request) -> social_pb2.Post:
    return social_pb2.Post(
        post_id=POST_ID,
        user_id=request.user_id,
        symbol=request.symbol.upper(),
        text=request.text,
        html="&lt;b&gt;",
        cashtags=["AAPL"],
        sentiment=0.5,
        created_at_us=CREATED_US,
    )


class FakeSocial(social_pb2_grpc.SocialServiceServicer):
    def __init__(self) -> None:
        self.calls = Calls()

    async def CreatePost(self, request, context):
        await self.calls.enter("CreatePost", request, context)
        return a_post(request)

    async def ListPosts(self, request, context):
        await self.calls.enter("ListPosts", request, context)
        post = a_post(social_pb2.CreatePostRequest(user_id="u", symbol=request.symbol, text="x"))
        return social_pb2.ListPostsResponse(posts=[post], next_page_token="next")

    async def CreateComment(self, request, context):
        await self.calls.enter("CreateComment", request, context)
        return social_pb2.Comment(
            comment_id="c-1", post_id=request.post_id, user_id=request.user_id, text=request.text
        )

    async def ListComments(self, request, context):
        await self.calls.enter("ListComments", request, context)
        return social_pb2.ListCommentsResponse()

    async def LikePost(self, request, context):
        await self.calls.enter("LikePost", request, context)
        return social_pb2.LikePostResponse(post_id=request.post_id, like_count=1, newly_liked=True)

    async def GetSentiment(self, request, context):
        await self.calls.enter("GetSentiment", request, context)
        return social_pb2.GetSentimentResponse(
            symbol=request.symbol,
            interval=request.interval,
            from_us=request.from_us,
            to_us=request.to_us,
            post_count=2,
            mean_sentiment=0.25,
            buckets=[
                social_pb2.SentimentBucket(
                    start_us=request.from_us, post_count=2, mean_sentiment=0.25, positive_count=1
                )
            ],
        )


class FakeNews(news_pb2_grpc.NewsServiceServicer):
    def __init__(self) -> None:
        self.calls = Calls()

    async def ListArticles(self, request, context):
        await self.calls.enter("ListArticles", request, context)
        return news_pb2.ListArticlesResponse(
            articles=[
                news_pb2.Article(
                    article_id="a-1",
                    url="https://news.example/a",
                    title="Apple",
                    source="Sample corpus",
                    symbols=["AAPL"],
                    published_at_us=CREATED_US,
                    sample=True,
                )
            ]
        )

    async def SearchArticles(self, request, context):
        await self.calls.enter("SearchArticles", request, context)
        return news_pb2.SearchArticlesResponse()


@dataclass
class Fakes:
    social: FakeSocial
    news: FakeNews
    social_target: str
    news_target: str


@pytest.fixture(scope="module")
async def social_news_servers() -> AsyncIterator[Fakes]:
    social, news = FakeSocial(), FakeNews()
    social_server = GrpcServer("127.0.0.1", 0, TlsSettings())
    news_server = GrpcServer("127.0.0.1", 0, TlsSettings())
    social_pb2_grpc.add_SocialServiceServicer_to_server(social, social_server.server)
    news_pb2_grpc.add_NewsServiceServicer_to_server(news, news_server.server)
    await social_server.start()
    await news_server.start()
    yield Fakes(social, news, f"127.0.0.1:{social_server.port}", f"127.0.0.1:{news_server.port}")
    await social_server.stop(0)
    await news_server.stop(0)


@pytest.fixture
async def api(gateway_for, social_news_servers):
    social_news_servers.social.calls = Calls()
    social_news_servers.news.calls = Calls()
    async with gateway_for(
        social_target=social_news_servers.social_target,
        news_target=social_news_servers.news_target,
    ) as started:
        yield started.client, social_news_servers


async def test_posting_passes_the_caller_and_maps_the_post(api, alice):
    client, fakes = api
    response = await client.post("/api/v1/social/aapl/posts", json={"text": "hi"}, headers=alice)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["post_id"] == POST_ID and body["symbol"] == "AAPL"
    assert body["created_at"] == "2024-05-02T13:45:12.345678Z"
    assert body["html"] == "&lt;b&gt;"
    sent = fakes.social.calls.requests["CreatePost"][0]
    assert (sent.user_id, sent.symbol, sent.text) == ("alice", "aapl", "hi")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/social/AAPL/posts"),
        ("post", f"/api/v1/social/posts/{POST_ID}/comments"),
        ("post", f"/api/v1/social/posts/{POST_ID}/like"),
    ],
)
async def test_writes_need_a_caller(api, method, path):
    client, fakes = api
    response = await client.request(method, path, json={"text": "hi"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert not fakes.social.calls.requests


async def test_reads_need_no_caller(api):
    client, _ = api
    feed = await client.get("/api/v1/social/AAPL/posts?limit=5&page_token=abc")
    assert feed.status_code == 200 and feed.json()["next_page_token"] == "next"
    comments = await client.get(f"/api/v1/social/posts/{POST_ID}/comments")
    assert comments.status_code == 200 and comments.json() == {
        "comments": [],
        "next_page_token": None,
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "body.text: Field required"),
        ({"text": ""}, "body.text"),
        ({"text": 5}, "body.text"),
        ({"text": "x", "extra": 1}, "body.extra"),
    ],
)
async def test_bad_bodies_are_400(api, alice, body, message):
    client, _ = api
    response = await client.post("/api/v1/social/AAPL/posts", json=body, headers=alice)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


async def test_post_ids_must_be_uuids(api, alice):
    client, fakes = api
    response = await client.post("/api/v1/social/posts/not-a-uuid/like", headers=alice)
    assert response.status_code == 400
    assert "post_id" in response.json()["error"]["message"]
    assert not fakes.social.calls.requests


async def test_rate_limit_refusal_is_429_with_retry_after(api, alice):
    client, fakes = api
    fakes.social.calls.fail_next(
        "CreatePost",
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "too many posts: at most 10 per minute; retry in 6 s",
        (("retry-after", "6"),),
    )
    response = await client.post("/api/v1/social/AAPL/posts", json={"text": "x"}, headers=alice)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "6"
    assert response.json()["error"] == {
        "code": "resource_exhausted",
        "message": "too many posts: at most 10 per minute; retry in 6 s",
        "request_id": response.headers["X-Request-ID"],
    }


async def test_unknown_post_is_404(api, alice):
    client, fakes = api
    fakes.social.calls.fail_next("LikePost", grpc.StatusCode.NOT_FOUND, f"post {POST_ID} not found")
    response = await client.post(f"/api/v1/social/posts/{POST_ID}/like", headers=alice)
    assert response.status_code == 404
    assert "Retry-After" not in response.headers


async def test_sentiment_window_and_interval(api):
    client, fakes = api
    response = await client.get(
        "/api/v1/social/AAPL/sentiment",
        params={"interval": "1d", "from": "2024-05-01T00:00:00Z", "to": "2024-05-03T00:00:00"},
    )
    assert response.status_code == 200, response.text
    sent = fakes.social.calls.requests["GetSentiment"][0]
    assert sent.interval == social_pb2.SENTIMENT_INTERVAL_DAY
    assert sent.from_us == 1_714_521_600_000_000
    assert sent.to_us == 1_714_694_400_000_000  # no offset: UTC
    body = response.json()
    assert body["interval"] == "1d" and body["buckets"][0]["start"] == "2024-05-01T00:00:00Z"
    bad = await client.get("/api/v1/social/AAPL/sentiment?interval=5m")
    assert bad.status_code == 400
    # Documented as ISO 8601: a number is not read as a Unix time (found by schemathesis).
    for number in ("1714694400", "-2.225073858507203e-309"):
        unix = await client.get("/api/v1/social/AAPL/sentiment", params={"from": number})
        assert unix.status_code == 400 and "ISO 8601" in unix.text, unix.text


async def test_news_symbols_are_split_and_checked(api):
    client, fakes = api
    response = await client.get("/api/v1/news", params={"symbols": "AAPL, msft,", "limit": 5})
    assert response.status_code == 200
    article = response.json()["articles"][0]
    assert article["sample"] is True and article["published_at"] == "2024-05-02T13:45:12.345678Z"
    sent = fakes.news.calls.requests["ListArticles"][0]
    assert list(sent.symbols) == ["AAPL", "msft"] and sent.limit == 5
    bad = await client.get("/api/v1/news", params={"symbols": "AAPL,<script>"})
    assert bad.status_code == 400 and "not a symbol" in bad.json()["error"]["message"]
    many = await client.get("/api/v1/news", params={"symbols": ",".join(["A"] * 21)})
    assert many.status_code == 400


async def test_news_search_needs_a_query(api):
    client, fakes = api
    missing = await client.get("/api/v1/news/search")
    assert missing.status_code == 400 and "query.q" in missing.json()["error"]["message"]
    found = await client.get("/api/v1/news/search", params={"q": '"cloud growth" -ads'})
    assert found.status_code == 200 and found.json() == {"results": []}
    assert fakes.news.calls.requests["SearchArticles"][0].query == '"cloud growth" -ads'


async def test_429_documents_retry_after(api):
    client, _ = api
    document = (await client.get("/api/v1/openapi.json")).json()
    responses = document["paths"]["/api/v1/social/{symbol}/posts"]["post"]["responses"]
    assert "Retry-After" in responses["429"]["headers"]
    assert document["paths"]["/api/v1/social/{symbol}/posts"]["post"]["security"]
