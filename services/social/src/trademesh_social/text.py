"""What a post's text may be, and the cashtags ($AAPL) it mentions."""

import re
import unicodedata

from trademesh_social.errors import InvalidRequest

# A cashtag is `$` and one to six letters, optionally a share class (`$BRK.B`), not glued to
# a word or a number before or after: "$AAPL," counts, "US$100" and "$AAPL2" do not.
CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?![\w$])")
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,9}$")
MAX_CASHTAGS = 10
# Line breaks and tabs are text; every other control character (NUL above all, which
# PostgreSQL cannot store) is refused rather than silently dropped.
_ALLOWED_CONTROLS = frozenset("\n\t")


def normalise_symbol(raw: str) -> str:
    symbol = raw.strip().upper()
    if not SYMBOL.fullmatch(symbol):
        raise InvalidRequest(
            f"symbol must be 1-10 letters, digits or dots starting with a letter, got {raw[:32]!r}"
        )
    return symbol


def clean_text(raw: str, *, max_chars: int, what: str) -> str:
    """The text as it will be stored: NFC, line ends unified, trimmed; or InvalidRequest."""
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if not text:
        raise InvalidRequest(f"{what} text must not be empty")
    if len(text) > max_chars:
        raise InvalidRequest(f"{what} text is {len(text)} characters; the limit is {max_chars}")
    for char in text:
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) == "Cc":
            raise InvalidRequest(f"{what} text contains a control character (U+{ord(char):04X})")
    return text


def cashtags(text: str) -> list[str]:
    """Upper-case symbols mentioned as $SYMBOL, first mention first, at most MAX_CASHTAGS."""
    found: list[str] = []
    for match in CASHTAG.finditer(text):
        symbol = match.group(1).upper()
        if symbol not in found:
            found.append(symbol)
            if len(found) == MAX_CASHTAGS:
                break
    return found
