"""Social and news through the gateway on the mesh: real services as processes on real
PostgreSQL and Redis, called like any client would."""

import asyncio
import time

import orjson
import pytest
from redis.asyncio import Redis

pytestmark = pytest.mark.integration

DEADLINE_SECONDS = 30.0
HOSTILE = "<script>alert(1)</script>"


async def test_post_feed_comment_like_sentiment(mesh, traders):
    alice, bob = await traders("alice"), await traders("bob")
    redis = Redis.from_url(mesh.services["social"].env["TRADEMESH_REDIS_URL"])
    live = redis.pubsub()
    await live.subscribe("live.posts.MSFT")
    try:
        posted = await alice.http.post(
            "/social/AAPL/posts",
            json={"text": f"$AAPL and $msft look great! Strong buy {HOSTILE}"},
        )
        assert posted.status_code == 201, posted.text
        post = posted.json()
        assert post["cashtags"] == ["AAPL", "MSFT"]
        assert post["user_id"] == alice.user_id
        assert post["sentiment"] > 0.5
        assert "<script>" not in post["html"] and "&lt;script&gt;" in post["html"]
        assert post["text"].endswith(HOSTILE)  # stored as written

        # Pushed live to the feeds of the tickers it mentions.
        message = await _next_message(live)
        assert message["type"] == "post" and message["post"]["post_id"] == post["post_id"]
    finally:
        await live.aclose()
        await redis.aclose()

    # In the feed of its ticker and of every ticker it mentions.
    for symbol in ("AAPL", "MSFT"):
        feed = await bob.http.get(f"/social/{symbol}/posts", params={"limit": 50})
        assert feed.status_code == 200
        assert post["post_id"] in [p["post_id"] for p in feed.json()["posts"]]

    commented = await bob.http.post(
        f"/social/posts/{post['post_id']}/comments", json={"text": "Agreed, $AAPL rocks"}
    )
    assert commented.status_code == 201, commented.text
    comments = await alice.http.get(f"/social/posts/{post['post_id']}/comments")
    assert [c["comment_id"] for c in comments.json()["comments"]] == [
        commented.json()["comment_id"]
    ]

    first = await bob.http.post(f"/social/posts/{post['post_id']}/like")
    again = await bob.http.post(f"/social/posts/{post['post_id']}/like")
    other = await alice.http.post(f"/social/posts/{post['post_id']}/like")
    assert (first.json()["newly_liked"], first.json()["like_count"]) == (True, 1)
    assert (again.json()["newly_liked"], again.json()["like_count"]) == (False, 1)
    assert other.json()["like_count"] == 2

    feed = await bob.http.get("/social/AAPL/posts", params={"limit": 50})
    mine = next(p for p in feed.json()["posts"] if p["post_id"] == post["post_id"])
    assert (mine["like_count"], mine["comment_count"]) == (2, 1)

    sentiment = await bob.http.get("/social/MSFT/sentiment", params={"interval": "1h"})
    assert sentiment.status_code == 200, sentiment.text
    body = sentiment.json()
    assert body["post_count"] >= 1 and body["buckets"]
    assert sum(bucket["post_count"] for bucket in body["buckets"]) == body["post_count"]


async def test_feed_paging_through_the_gateway(mesh, traders):
    authors = [await traders(f"pager{i}") for i in range(5)]
    created = []
    for author in authors:
        response = await author.http.post("/social/KO/posts", json={"text": "$KO steady"})
        assert response.status_code == 201
        created.append(response.json()["post_id"])
    seen, token = [], None
    while True:
        params = {"limit": 2, **({"page_token": token} if token else {})}
        page = (await authors[0].http.get("/social/KO/posts", params=params)).json()
        seen.extend(p["post_id"] for p in page["posts"])
        token = page["next_page_token"]
        if token is None:
            break
    assert len(seen) == len(set(seen))
    assert [post_id for post_id in seen if post_id in created] == list(reversed(created))


async def test_writes_are_rate_limited_with_retry_after(mesh, traders):
    spammer = await traders("spammer")
    for attempt in range(50):  # the default limit is 10 posts a minute
        response = await spammer.http.post("/social/TSLA/posts", json={"text": f"post {attempt}"})
        if response.status_code == 429:
            break
        assert response.status_code == 201, response.text
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "resource_exhausted"


async def test_bad_social_requests(mesh, traders):
    trader = await traders("careless")
    too_long = await trader.http.post("/social/AAPL/posts", json={"text": "x" * 1001})
    assert too_long.status_code == 400 and "limit is 1000" in too_long.json()["error"]["message"]
    missing = await trader.http.post(
        "/social/posts/00000000-0000-4000-8000-000000000000/comments", json={"text": "hi"}
    )
    assert missing.status_code == 404
    anonymous = await trader.http.post(
        "/social/AAPL/posts", json={"text": "hi"}, headers={"Authorization": ""}
    )
    assert anonymous.status_code == 401


async def test_news_list_and_search(mesh, traders):
    reader = await traders("reader")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:  # the sample corpus is ingested right after start-up
        listed = await reader.http.get("/news", params={"symbols": "AAPL,MSFT", "limit": 5})
        assert listed.status_code == 200, listed.text
        articles = listed.json()["articles"]
        if articles or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert len(articles) == 5
    assert all({"AAPL", "MSFT"} & set(article["symbols"]) for article in articles)
    assert all(article["sample"] for article in articles)
    times = [article["published_at"] for article in articles]
    assert times == sorted(times, reverse=True)
    second = await reader.http.get(
        "/news",
        params={"symbols": "AAPL,MSFT", "limit": 5, "page_token": listed.json()["next_page_token"]},
    )
    assert not {a["article_id"] for a in articles} & {
        a["article_id"] for a in second.json()["articles"]
    }

    found = await reader.http.get("/news/search", params={"q": "cloud guidance"})
    assert found.status_code == 200
    results = found.json()["results"]
    assert results[0]["article"]["title"] == "Microsoft lifts cloud guidance on AI demand"
    assert results[0]["article"]["symbols"] == ["MSFT"]

    bad = await reader.http.get("/news", params={"symbols": "AAPL;DROP"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "invalid_argument"


async def _next_message(pubsub) -> dict:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
        if message is not None:
            return orjson.loads(message["data"])
    raise AssertionError("no live message")
