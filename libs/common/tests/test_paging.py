import pytest

from trademesh_common.paging import (
    InvalidPageToken,
    decode_page_token,
    encode_page_token,
    page_size,
)


def test_positions_round_trip_within_their_listing():
    token = encode_page_token("news:AAPL,MSFT", 1_714_657_512_345_678, 42)
    assert decode_page_token("news:AAPL,MSFT", token, 2) == (1_714_657_512_345_678, 42)
    assert decode_page_token("news:AAPL,MSFT", "", 2) is None
    assert decode_page_token("a|b", encode_page_token("a|b", -5), 1) == (-5,)


@pytest.mark.parametrize(
    ("listing", "token", "parts"),
    [
        ("news:MSFT", encode_page_token("news:AAPL", 1, 2), 2),  # another listing
        ("news:AAPL", encode_page_token("news:AAPL", 1, 2), 1),  # another shape
        ("x", "not base64!", 1),
        ("x", "eHl6", 1),
        ("x", encode_page_token("x", 1)[:-3], 1),
    ],
)
def test_foreign_tokens_are_refused(listing, token, parts):
    with pytest.raises(InvalidPageToken):
        decode_page_token(listing, token, parts)


def test_page_size():
    assert page_size(0, 20, 100) == 20
    assert page_size(500, 20, 100) == 100
    with pytest.raises(ValueError, match="negative"):
        page_size(-1, 20, 100)
