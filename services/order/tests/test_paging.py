import pytest

from trademesh_order.errors import InvalidRequest
from trademesh_order.paging import decode_page_token, encode_page_token, page_size


def test_page_tokens_round_trip():
    assert decode_page_token(encode_page_token(12345)) == 12345
    assert decode_page_token("") is None


@pytest.mark.parametrize("token", ["garbage!", "b3JkZXJzOnYxOg", "eHl6", "%%%"])
def test_foreign_page_tokens_are_refused(token):
    with pytest.raises(InvalidRequest):
        decode_page_token(token)


def test_page_size_defaults_and_caps():
    assert page_size(0) == 100
    assert page_size(7) == 7
    assert page_size(10_000) == 500
    with pytest.raises(InvalidRequest):
        page_size(-1)
