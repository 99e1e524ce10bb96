"""Opaque page tokens for keyset paging: a position in one listing, which the client hands
back unchanged.

A token names its listing (one ticker's feed, one post's comments, ...) so it cannot be
replayed against another, and carries the integer key parts of the last row served.
"""

import base64
import binascii

_VERSION = "v1"


class InvalidPageToken(ValueError):
    def __init__(self) -> None:
        super().__init__("page_token is not valid for this listing")


def encode_page_token(listing: str, *position: int) -> str:
    raw = "|".join([_VERSION, listing, *(str(part) for part in position)])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(listing: str, token: str, parts: int) -> tuple[int, ...] | None:
    """The position in a token made for `listing` (None for an empty token, the first page)."""
    if not token:
        return None
    try:
        text = base64.urlsafe_b64decode((token + "=" * (-len(token) % 4)).encode()).decode()
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidPageToken from None
    fields = text.split("|")
    position = fields[-parts:]
    if (
        len(fields) < parts + 2
        or fields[0] != _VERSION
        or "|".join(fields[1:-parts]) != listing
        or not all(part.lstrip("-").isdigit() for part in position)
    ):
        raise InvalidPageToken
    return tuple(int(part) for part in position)


def page_size(requested: int, default: int, maximum: int) -> int:
    """0 means the default; anything above the maximum is served as the maximum."""
    if requested < 0:
        raise ValueError(f"limit must not be negative, got {requested}")
    if requested == 0:
        return default
    return min(requested, maximum)
