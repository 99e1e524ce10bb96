"""Page sizes and tokens for the feeds and comment threads (keyset on sequence numbers)."""

from trademesh_common import paging
from trademesh_social.errors import InvalidRequest

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100


def page_size(requested: int) -> int:
    try:
        return paging.page_size(requested, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
    except ValueError as error:
        raise InvalidRequest(str(error)) from None


def encode_page_token(listing: str, last_seq: int) -> str:
    return paging.encode_page_token(listing, last_seq)


def decode_page_token(listing: str, token: str) -> int | None:
    """The sequence number to continue from (None for the first page)."""
    try:
        position = paging.decode_page_token(listing, token, 1)
    except paging.InvalidPageToken as error:
        raise InvalidRequest(str(error)) from None
    return None if position is None else position[0]
