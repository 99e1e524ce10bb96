"""Rules for what users send: usernames, passwords, watchlist names and symbols."""

import re
import uuid

from trademesh_auth.errors import InvalidArgument, NotFound

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,31}$")
PASSWORD_MIN_LENGTH = 8
# argon2 hashes any length, but a megabyte password is a way to burn the service's CPU.
PASSWORD_MAX_LENGTH = 128
WATCHLIST_NAME_MAX_LENGTH = 64
SYMBOL_PATTERN = re.compile(r"^[A-Z0-9][A-Z0-9.-]{0,15}$")


def validate_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise InvalidArgument(
            "username must be 3-32 characters: letters, digits and _.- "
            "(starting with a letter or digit)"
        )
    return username


def validate_password(password: str) -> str:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise InvalidArgument(
            f"password must be {PASSWORD_MIN_LENGTH}-{PASSWORD_MAX_LENGTH} characters long"
        )
    return password


def validate_watchlist_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > WATCHLIST_NAME_MAX_LENGTH or not name.isprintable():
        raise InvalidArgument(
            f"watchlist name must be 1-{WATCHLIST_NAME_MAX_LENGTH} printable characters"
        )
    return name


def normalize_symbol(symbol: str) -> str:
    """Symbols are stored upper-case: "aapl" and "AAPL" are one entry."""
    upper = symbol.strip().upper()
    if not SYMBOL_PATTERN.fullmatch(upper):
        raise InvalidArgument(
            f"symbol {symbol[:32]!r} is not valid: 1-16 letters, digits, '.' or '-'"
        )
    return upper


def parse_id(value: str, what: str) -> uuid.UUID:
    """Ids are UUIDs; anything else names nothing (NOT_FOUND, like a missing one)."""
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value[:64]!r} not found") from None
