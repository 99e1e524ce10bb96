"""Opaque page tokens: a position in one listing, which the client hands back unchanged.

A token names its listing (a ticker's feed, a post's comments) so that it cannot be
replayed against another one, and the sequence number of the last row served.
"""

import base64
import binascii

from trademesh_social.errors import InvalidRequest

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_VERSION = "v1"


def page_size(requested: int) -> int:
    """0 means the default; anything above the maximum is served as the maximum."""
    if requested < 0:
        raise InvalidRequest(f"limit must not be negative, got {requested}")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_page_token(listing: str, last_seq: int) -> str:
    raw = f"{_VERSION}|{listing}|{last_seq}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(listing: str, token: str) -> int | None:
    """The sequence number to continue from (None for the first page)."""
    if not token:
        return None
    invalid = InvalidRequest("page_token is not valid for this listing")
    try:
        text = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise invalid from None
    version, _, rest = text.partition("|")
    token_listing, _, seq = rest.rpartition("|")
    if version != _VERSION or token_listing != listing or not seq.isdigit():
        raise invalid
    return int(seq)
