"""The social service on real PostgreSQL and Redis, through its gRPC API."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
import orjson
import pytest
from redis.asyncio import Redis

from trademesh.social.v1 import social_pb2, social_pb2_grpc
from trademesh_common.config import TlsSettings
from trademesh_common.health import Health
from trademesh_common.rpc import create_channel
from trademesh_social.app import SocialApp
from trademesh_social.settings import SocialSettings

from .conftest import MAX_COMMENT_CHARS, MAX_POST_CHARS, POSTS_PER_MINUTE

pytestmark = pytest.mark.integration


def new_user() -> str:
    return f"user-{uuid.uuid4().hex[:12]}"


async def post(social, symbol: str, text: str, user: str | None = None) -> social_pb2.Post:
    return await social.CreatePost(
        social_pb2.CreatePostRequest(user_id=user or new_user(), symbol=symbol, text=text)
    )


async def test_a_post_is_stored_with_its_cashtags_sentiment_and_safe_html(social, symbol, user):
    created = await social.CreatePost(
        social_pb2.CreatePostRequest(
            user_id=user, symbol=symbol.lower(), text=f"  Love ${symbol} <b>great</b> quarter!  "
        )
    )
    assert created.symbol == symbol
    assert created.text == f"Love ${symbol} <b>great</b> quarter!"
    assert list(created.cashtags) == [symbol]
    assert created.sentiment > 0.5
    assert "<b>" not in created.html and "&lt;b&gt;great&lt;/b&gt;" in created.html
    assert f'data-symbol="{symbol}"' in created.html
    feed = await social.ListPosts(social_pb2.ListPostsRequest(symbol=symbol))
    assert [p.post_id for p in feed.posts] == [created.post_id]
    assert feed.posts[0].html == created.html
    assert feed.next_page_token == ""


async def test_a_post_appears_in_the_feed_of_every_ticker_it_mentions(social, symbol):
    other = symbol[:-1] + ("A" if symbol[-1] != "A" else "B")
    created = await post(social, symbol, f"${other} looks cheaper than ${symbol}")
    assert list(created.cashtags) == [other, symbol]
    for ticker in (symbol, other):
        feed = await social.ListPosts(social_pb2.ListPostsRequest(symbol=ticker))
        assert [p.post_id for p in feed.posts] == [created.post_id]


async def test_new_posts_and_comments_are_published_live(social, social_stack, symbol):
    redis = Redis.from_url(social_stack.redis_url)
    pubsub = redis.pubsub()
    await pubsub.subscribe(f"live.posts.{symbol}")
    try:
        created = await post(social, symbol, "<script>x</script> hello")
        comment = await social.CreateComment(
            social_pb2.CreateCommentRequest(user_id=new_user(), post_id=created.post_id, text="hi")
        )
        messages = []
        deadline = time.monotonic() + 10
        while len(messages) < 2 and time.monotonic() < deadline:
            # None also stands for the subscription's own confirmation: keep reading.
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
            if message is not None:
                messages.append(orjson.loads(message["data"]))
    finally:
        await pubsub.aclose()
        await redis.aclose()
    assert messages[0]["type"] == "post" and messages[0]["symbol"] == symbol
    assert messages[0]["post"]["post_id"] == created.post_id
    assert messages[0]["post"]["html"] == "&lt;script&gt;x&lt;/script&gt; hello"
    assert messages[1]["type"] == "comment"
    assert messages[1]["comment"]["comment_id"] == comment.comment_id


async def test_comments_page_oldest_first_and_count_on_the_post(social, symbol):
    created = await post(social, symbol, "what do you think?")
    texts = [f"comment {i}" for i in range(5)]
    for text in texts:
        await social.CreateComment(
            social_pb2.CreateCommentRequest(user_id=new_user(), post_id=created.post_id, text=text)
        )
    seen, token = [], ""
    while True:
        page = await social.ListComments(
            social_pb2.ListCommentsRequest(post_id=created.post_id, limit=2, page_token=token)
        )
        seen.extend(c.text for c in page.comments)
        token = page.next_page_token
        if not token:
            break
    assert seen == texts
    feed = await social.ListPosts(social_pb2.ListPostsRequest(symbol=symbol))
    assert feed.posts[0].comment_count == 5


async def test_likes_are_idempotent_per_user_even_when_concurrent(social, symbol, user):
    created = await post(social, symbol, "like me")
    request = social_pb2.LikePostRequest(user_id=user, post_id=created.post_id)
    replies = await asyncio.gather(*(social.LikePost(request) for _ in range(8)))
    assert sum(reply.newly_liked for reply in replies) == 1
    assert {reply.like_count for reply in replies} == {1}
    second = await social.LikePost(
        social_pb2.LikePostRequest(user_id=new_user(), post_id=created.post_id)
    )
    assert second.newly_liked and second.like_count == 2


async def test_unknown_and_malformed_post_ids(social, user):
    missing = str(uuid.uuid4())
    for call in (
        social.LikePost(social_pb2.LikePostRequest(user_id=user, post_id=missing)),
        social.ListComments(social_pb2.ListCommentsRequest(post_id=missing)),
        social.CreateComment(
            social_pb2.CreateCommentRequest(user_id=user, post_id=missing, text="x")
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await call
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await social.LikePost(social_pb2.LikePostRequest(user_id=user, post_id="nope"))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "UUID" in raised.value.details()


async def test_feed_paging_is_stable_under_concurrent_inserts(social, symbol):
    before = [await post(social, symbol, f"old {i}") for i in range(12)]
    writing = asyncio.gather(*(post(social, symbol, f"new {i}") for i in range(12)))
    seen, token = [], ""
    while True:
        page = await social.ListPosts(
            social_pb2.ListPostsRequest(symbol=symbol, limit=3, page_token=token)
        )
        seen.extend(p.post_id for p in page.posts)
        token = page.next_page_token
        if not token:
            break
        await asyncio.sleep(0)  # let the writers interleave with the reader
    await writing
    assert len(seen) == len(set(seen)), "a post was served twice"
    # Everything older than the first page's top is served, newest first, exactly once.
    old_ids = [p.post_id for p in reversed(before)]
    assert [post_id for post_id in seen if post_id in old_ids] == old_ids


async def test_keyset_order_is_commit_order(social, symbol):
    # Many concurrent writers: listing everything must give strictly decreasing sequence
    # positions, i.e. the feed order matches the order in which posts became visible.
    await asyncio.gather(*(post(social, symbol, f"p{i}") for i in range(20)))
    feed = await social.ListPosts(social_pb2.ListPostsRequest(symbol=symbol, limit=100))
    times = [p.created_at_us for p in feed.posts]
    assert len(times) == 20
    assert times == sorted(times, reverse=True)


async def test_page_tokens_belong_to_their_feed(social, symbol):
    for i in range(3):
        await post(social, symbol, f"p{i}")
    page = await social.ListPosts(social_pb2.ListPostsRequest(symbol=symbol, limit=1))
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await social.ListPosts(
            social_pb2.ListPostsRequest(symbol="AAPL", page_token=page.next_page_token)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_length_limits(social, symbol, user):
    await post(social, symbol, "x" * MAX_POST_CHARS, user)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await post(social, symbol, "x" * (MAX_POST_CHARS + 1))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"limit is {MAX_POST_CHARS}" in raised.value.details()
    target = await post(social, symbol, "ok")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await social.CreateComment(
            social_pb2.CreateCommentRequest(
                user_id=user, post_id=target.post_id, text="y" * (MAX_COMMENT_CHARS + 1)
            )
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_posting_is_rate_limited_per_user_with_a_retry_after(social, symbol, user):
    for i in range(POSTS_PER_MINUTE):
        await post(social, symbol, f"post {i}", user)
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await post(social, symbol, "one too many", user)
    assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    metadata = dict(raised.value.trailing_metadata() or ())
    # One slot frees every 60/POSTS_PER_MINUTE seconds.
    assert 1 <= int(metadata["retry-after"]) <= 60 // POSTS_PER_MINUTE
    # Someone else is not affected.
    await post(social, symbol, "another user")
    feed = await social.ListPosts(social_pb2.ListPostsRequest(symbol=symbol))
    assert "one too many" not in [p.text for p in feed.posts]


async def test_sentiment_buckets_by_hour_with_count_and_mean(social, db, symbol):
    hour = datetime(2024, 5, 2, 13, tzinfo=UTC)
    placed = {
        "Great, love it": hour + timedelta(minutes=0),
        "Awful, terrible": hour + timedelta(minutes=59, seconds=59),
        "The report is on Tuesday": hour + timedelta(hours=1),  # the next bucket's first instant
        "Fantastic results": hour + timedelta(hours=3, minutes=30),
        "Outside the window": hour + timedelta(hours=5),
    }
    scores = {}
    for text, moment in placed.items():
        created = await post(social, symbol, text)
        scores[text] = created.sentiment
        await db.execute(
            "UPDATE posts SET created_at = $2 WHERE post_id = $1::uuid", created.post_id, moment
        )
        await db.execute(
            "UPDATE post_symbols SET created_at = $2 WHERE post_id = $1::uuid",
            created.post_id,
            moment,
        )
    reply = await social.GetSentiment(
        social_pb2.GetSentimentRequest(
            symbol=symbol,
            interval=social_pb2.SENTIMENT_INTERVAL_HOUR,
            from_us=int(hour.timestamp() * 1e6),
            to_us=int((hour + timedelta(hours=5)).timestamp() * 1e6),
        )
    )
    buckets = [
        (datetime.fromtimestamp(b.start_us / 1e6, UTC), b.post_count, b.mean_sentiment)
        for b in reply.buckets
    ]
    first = (scores["Great, love it"] + scores["Awful, terrible"]) / 2
    assert buckets == [
        (hour, 2, pytest.approx(first)),
        (hour + timedelta(hours=1), 1, pytest.approx(0.0)),
        (hour + timedelta(hours=3), 1, pytest.approx(scores["Fantastic results"])),
    ]
    assert reply.post_count == 4
    expected_mean = (2 * first + scores["Fantastic results"]) / 4
    assert reply.mean_sentiment == pytest.approx(expected_mean)
    assert reply.buckets[0].positive_count == 1 and reply.buckets[0].negative_count == 1

    daily = await social.GetSentiment(
        social_pb2.GetSentimentRequest(
            symbol=symbol,
            interval=social_pb2.SENTIMENT_INTERVAL_DAY,
            from_us=int((hour - timedelta(days=1)).timestamp() * 1e6),
            to_us=int((hour + timedelta(days=1)).timestamp() * 1e6),
        )
    )
    assert [(b.post_count, b.start_us) for b in daily.buckets] == [
        (5, int(datetime(2024, 5, 2, tzinfo=UTC).timestamp() * 1e6))
    ]


async def test_sentiment_refuses_bad_windows(social, symbol):
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await social.GetSentiment(
            social_pb2.GetSentimentRequest(symbol=symbol, from_us=2_000_000, to_us=1_000_000)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await social.GetSentiment(
            social_pb2.GetSentimentRequest(symbol=symbol, from_us=1, to_us=10**16)
        )
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as raised:  # past year 9999
        await social.GetSentiment(social_pb2.GetSentimentRequest(symbol=symbol, to_us=10**18))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_sentiment_up_to_the_first_days_of_year_one_starts_at_year_one(social, symbol):
    # The default window (30 days back from `to`) used to underflow datetime: an INTERNAL.
    year_one = datetime(1, 1, 15, 6, 1, tzinfo=UTC)
    to_us = (year_one - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    reply = await social.GetSentiment(
        social_pb2.GetSentimentRequest(
            symbol=symbol, interval=social_pb2.SENTIMENT_INTERVAL_DAY, to_us=to_us
        )
    )
    assert reply.from_us < reply.to_us == to_us
    assert reply.post_count == 0


async def test_writes_are_refused_not_unlimited_when_redis_is_down(social_stack, symbol, user):
    settings = SocialSettings(
        postgres_dsn=social_stack.dsn,
        redis_url="redis://127.0.0.1:9/0",  # nothing listens on the discard port
        grpc_host="127.0.0.1",
        grpc_port=0,
    )
    health = Health()
    app = SocialApp(settings, health)
    await app.start()
    channel = create_channel(f"127.0.0.1:{app.grpc_port}", TlsSettings())
    try:
        stub = social_pb2_grpc.SocialServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await post(stub, symbol, "hello", user)
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "rate limiter is unavailable" in raised.value.details()
        readiness = await health.readiness()
        assert readiness["postgres"] is True and readiness["redis"] is False
        # Reads do not need Redis.
        await stub.ListPosts(social_pb2.ListPostsRequest(symbol=symbol))
    finally:
        await channel.close()
        await app.stop()
