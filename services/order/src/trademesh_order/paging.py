"""Opaque page tokens for newest-first listings: a cursor the client hands back unchanged."""

import base64
import binascii

from trademesh_order.errors import InvalidRequest

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
_PREFIX = "orders:v1:"


def page_size(requested: int) -> int:
    """0 means the default; anything above the maximum is served as the maximum."""
    if requested < 0:
        raise InvalidRequest(f"limit must not be negative, got {requested}")
    if requested == 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def encode_page_token(last_seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{last_seq}".encode()).decode().rstrip("=")


def decode_page_token(token: str) -> int | None:
    """The cursor in a token (None for the first page); InvalidRequest if it is not ours."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidRequest("page_token is not valid") from None
    cursor = text.removeprefix(_PREFIX)
    if cursor == text or not cursor.isdigit():
        raise InvalidRequest("page_token is not valid")
    return int(cursor)
