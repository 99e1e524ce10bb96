"""Path and query parameters shared by several routes, with their bounds."""

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import BeforeValidator

# Ids and symbols are opaque to the gateway, but bounded: nothing unbounded reaches a service.
_ID_PATTERN = r"^[A-Za-z0-9._:-]+$"
SYMBOL_PATTERN = r"^[A-Za-z0-9._-]+$"

OrderIdParam = Annotated[
    str, Path(min_length=1, max_length=64, pattern=_ID_PATTERN, examples=["0f8e3c1a-6d2b"])
]
TradeIdParam = Annotated[
    str, Path(min_length=1, max_length=64, pattern=_ID_PATTERN, examples=["trade-5512"])
]
SymbolParam = Annotated[
    str, Path(min_length=1, max_length=32, pattern=SYMBOL_PATTERN, examples=["ACME"])
]
# Tokens are unpadded base64url; an empty one means nothing a client should send (leave the
# parameter out for the first page), so the document says exactly what a token can be.
PageTokenParam = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="`next_page_token` of the previous page; leave out for the first page.",
    ),
]
SymbolFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=32, pattern=SYMBOL_PATTERN, description="Only this symbol."),
]


# Pydantic also reads a number ("1714694400", "-2e-309") as a Unix time; a parameter the
# document calls an ISO 8601 date-time takes only that.
_ISO_8601_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_8601_only(value: Any) -> Any:
    if isinstance(value, str) and not _ISO_8601_PREFIX.match(value):
        raise ValueError("must be an ISO 8601 date-time, e.g. 2024-05-02T13:45:00Z")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_8601_only)]
# Times that are ISO 8601 or Unix seconds, documented as either.
ISO_OR_UNIX_SECONDS_SCHEMA = {
    "anyOf": [{"type": "string", "format": "date-time"}, {"type": "number"}, {"type": "null"}]
}
