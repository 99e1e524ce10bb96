"""Page sizes and tokens for a user's order listing (keyset on the order sequence number)."""

from trademesh_common import paging
from trademesh_order.errors import InvalidRequest

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


def page_size(requested: int) -> int:
    """0 means the default; anything above the maximum is served as the maximum."""
    try:
        return paging.page_size(requested, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    except ValueError as error:
        raise InvalidRequest(str(error)) from None


def listing(symbol: str | None, open_only: bool) -> str:
    """A token continues only the listing it came from (same filters)."""
    return f"orders:{symbol or '*'}:{'open' if open_only else 'all'}"


def encode_page_token(listing: str, last_seq: int) -> str:
    return paging.encode_page_token(listing, last_seq)


def decode_page_token(listing: str, token: str) -> int | None:
    """The sequence number to continue before (None for the first page)."""
    try:
        position = paging.decode_page_token(listing, token, 1)
    except paging.InvalidPageToken as error:
        raise InvalidRequest(str(error)) from None
    return None if position is None else position[0]
