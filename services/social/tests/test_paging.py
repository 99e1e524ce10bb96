import pytest

from trademesh_social.errors import InvalidRequest
from trademesh_social.paging import decode_page_token, encode_page_token, page_size


def test_tokens_round_trip_within_their_listing():
    token = encode_page_token("posts:AAPL", 42)
    assert decode_page_token("posts:AAPL", token) == 42
    assert decode_page_token("posts:AAPL", "") is None


def test_a_token_is_refused_by_another_listing():
    token = encode_page_token("posts:AAPL", 42)
    with pytest.raises(InvalidRequest):
        decode_page_token("posts:MSFT", token)


@pytest.mark.parametrize("token", ["garbage!", "%%%", "eHl6", encode_page_token("posts:A", 1)[:-2]])
def test_foreign_tokens_are_refused(token):
    with pytest.raises(InvalidRequest):
        decode_page_token("posts:A", token)


def test_page_size():
    assert page_size(0) == 20
    assert page_size(5) == 5
    assert page_size(10_000) == 100
    with pytest.raises(InvalidRequest):
        page_size(-1)
