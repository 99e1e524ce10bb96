"""Path and query parameters shared by several routes, with their bounds."""

from typing import Annotated

from fastapi import Path, Query

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
SymbolFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=32, pattern=SYMBOL_PATTERN, description="Only this symbol."),
]
