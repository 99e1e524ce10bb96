import pytest

from trademesh_order.errors import InvalidRequest
from trademesh_order.paging import decode_page_token, encode_page_token, listing, page_size


def test_page_tokens_round_trip_within_their_listing():
    everything = listing(None, open_only=False)
    assert decode_page_token(everything, encode_page_token(everything, 12345)) == 12345
    assert decode_page_token(everything, "") is None


@pytest.mark.parametrize("token", ["garbage!", "b3JkZXJzOnYxOg", "eHl6", "%%%"])
def test_foreign_page_tokens_are_refused(token):
    with pytest.raises(InvalidRequest):
        decode_page_token(listing(None, open_only=False), token)


def test_a_token_does_not_continue_a_listing_with_other_filters():
    token = encode_page_token(listing("ACME", open_only=True), 7)
    for other in (listing(None, open_only=True), listing("ACME", open_only=False)):
        with pytest.raises(InvalidRequest):
            decode_page_token(other, token)


def test_page_size_defaults_and_caps():
    assert page_size(0) == 100
    assert page_size(7) == 7
    assert page_size(10_000) == 500
    with pytest.raises(InvalidRequest):
        page_size(-1)
