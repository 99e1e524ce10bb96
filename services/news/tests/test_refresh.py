from datetime import UTC, datetime, timedelta

from trademesh_news.refresh import RefreshPolicy

NOW = datetime(2026, 11, 22, 12, tzinfo=UTC)
POLICY = RefreshPolicy(max_age=timedelta(minutes=15), min_interval=timedelta(minutes=1))


def test_a_source_never_fetched_is_due():
    assert POLICY.due(NOW, None, None)


def test_fresh_news_means_no_fetch():
    last = NOW - timedelta(minutes=5)
    assert not POLICY.due(NOW, last, NOW - timedelta(minutes=14, seconds=59))


def test_stale_news_means_fetch_again():
    last = NOW - timedelta(minutes=5)
    assert POLICY.due(NOW, last, NOW - timedelta(minutes=15))


def test_never_sooner_than_the_minimum_interval():
    assert not POLICY.due(NOW, NOW - timedelta(seconds=59), NOW - timedelta(days=3))
    assert not POLICY.due(NOW, NOW - timedelta(seconds=30), None)
    assert POLICY.due(NOW, NOW - timedelta(minutes=1), None)
