from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from trademesh_news.adapters.feeds import parse_feed
from trademesh_news.adapters.newsapi import parse_newsapi
from trademesh_news.drafts import FeedError
from trademesh_news.plain_text import plain_text

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_rss():
    parsed = parse_feed(fixture("rss.xml"))
    titles = [draft.title for draft in parsed.drafts]
    assert titles == [
        "Nvidia & Microsoft expand AI partnership",
        "Quiet session for bank shares",
        "A script link",
        "Undated item about Tesla",
    ]
    first = parsed.drafts[0]
    assert first.summary == "The companies will co-develop accelerated cloud instances."
    assert first.published_at == datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
    # A permalink guid stands in for a missing link.
    assert parsed.drafts[1].url == "https://rss.fixture.example/story/banks-quiet"
    assert parsed.drafts[3].published_at is None
    assert [refused.reason for refused in parsed.refused] == ["item without a link"]


def test_atom():
    parsed = parse_feed(fixture("atom.xml"))
    assert [draft.title for draft in parsed.drafts] == [
        "Coca-Cola raises dividend",
        "Visa and Amazon extend card agreement",
    ]
    assert parsed.drafts[0].url == "https://Atom.Fixture.Example:443/posts/ko-dividend/#comments"
    assert parsed.drafts[1].summary == "A multiyear renewal."
    assert parsed.drafts[1].published_at == datetime(
        2026, 11, 3, 8, tzinfo=timezone(timedelta(hours=1))
    )
    assert [refused.reason for refused in parsed.refused] == ["entry without a title"]


def test_newsapi():
    parsed = parse_newsapi(fixture("newsapi.json"))
    assert [draft.title for draft in parsed.drafts] == [
        "Apple supplier warns on smartphone demand",
        "Alphabet and Meta Platforms lead ad-market recovery",
    ]
    assert parsed.drafts[1].summary == ""
    assert parsed.drafts[0].published_at == datetime(2026, 11, 4, 7, 45, tzinfo=UTC)
    assert len(parsed.refused) == 2


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("billion_laughs.xml", "forbidden XML construct"),
        ("external_entity.xml", "forbidden XML construct"),
        ("truncated.xml", "not well-formed XML"),
        ("not_a_feed.html", "not well-formed XML"),
        ("unknown_root.xml", "neither RSS 2.0 nor Atom"),
        ("newsapi.json", "not well-formed XML"),
    ],
)
def test_unusable_feeds(name, reason):
    with pytest.raises(FeedError, match=reason):
        parse_feed(fixture(name))


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (fixture("newsapi_error.json"), "provider error apiKeyInvalid"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"status": "ok"}', "expected"),
        (b"<rss/>", "not JSON"),
    ],
)
def test_unusable_provider_documents(document, reason):
    with pytest.raises(FeedError, match=reason):
        parse_newsapi(document)


def test_plain_text():
    assert plain_text("<p>a<br>b</p><script>x()</script><style>p{}</style> &amp; c", 100) == (
        "a b & c"
    )
    assert plain_text("word " * 10, 12) == "word word w…"
