import pytest

from trademesh_news.urls import InvalidUrl, canonical_url


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("HTTPS://News.Example.COM/a/b/", "https://news.example.com/a/b"),
        (
            "https://news.example.com/a?utm_source=x&utm_medium=y&id=3",
            "https://news.example.com/a?id=3",
        ),
        ("https://news.example.com/a?b=2&a=1#section", "https://news.example.com/a?a=1&b=2"),
        ("https://news.example.com:443/a", "https://news.example.com/a"),
        ("http://news.example.com:80/a", "http://news.example.com/a"),
        ("http://news.example.com:8080/a", "http://news.example.com:8080/a"),
        ("https://user:secret@news.example.com/a", "https://news.example.com/a"),
        ("https://news.example.com/", "https://news.example.com"),
        ("https://news.example.com", "https://news.example.com"),
        (
            "https://news.example.com/a?fbclid=1&gclid=2&UTM_Term=3&q=",
            "https://news.example.com/a?q=",
        ),
        ("  https://news.example.com./a  ", "https://news.example.com/a"),
        ("https://[2001:DB8::1]:8443/a", "https://[2001:db8::1]:8443/a"),
        ("https://news.example.com/A/Case/Matters", "https://news.example.com/A/Case/Matters"),
    ],
)
def test_canonical_url(raw, canonical):
    assert canonical_url(raw) == canonical


def test_variants_of_one_story_share_a_key():
    variants = [
        "https://news.example.com/story/1",
        "https://NEWS.example.com/story/1/",
        "https://news.example.com/story/1?utm_source=rss#comments",
        "HTTPS://news.example.com:443/story/1?mc_cid=9",
    ]
    assert len({canonical_url(url) for url in variants}) == 1


@pytest.mark.parametrize(
    "raw",
    [
        "javascript:alert(1)",
        "ftp://news.example.com/a",
        "data:text/html,hi",
        "/relative/path",
        "https://",
        "",
        "https://news.example.com/a b",
        "https://news.example.com:99999/",
        "https://news.example.com/" + "a" * 3000,
    ],
)
def test_unusable_urls_are_refused(raw):
    with pytest.raises(InvalidUrl):
        canonical_url(raw)
