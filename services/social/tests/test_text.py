import re

import pytest

from trademesh_social.errors import InvalidRequest
from trademesh_social.text import MAX_CASHTAGS, cashtags, clean_text, normalise_symbol


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$AAPL to the moon", ["AAPL"]),
        ("long $aapl and $MSFT, short $tsla.", ["AAPL", "MSFT", "TSLA"]),
        ("$BRK.B is boring", ["BRK.B"]),
        ("($NVDA) rallied; $NVDA again", ["NVDA"]),
        ("paid US$100 for $5 coffee", []),
        ("$AAPL2 and abc$MSFT and $$KO", []),
        ("$TOOLONGX is not a ticker", []),
        ("line one\n$V line two", ["V"]),
    ],
)
def test_cashtags(text, expected):
    assert cashtags(text) == expected


def test_cashtags_are_capped():
    text = " ".join(f"$A{chr(65 + i)}" for i in range(MAX_CASHTAGS + 5))
    assert len(cashtags(text)) == MAX_CASHTAGS


def test_clean_text_normalises_and_trims():
    assert clean_text("  hi\r\nthere\r  ", max_chars=100, what="post") == "hi\nthere"
    # NFC: "e" + combining acute is one character after normalisation.
    assert clean_text("cafe\u0301", max_chars=4, what="post") == "caf\u00e9"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("   \n ", "must not be empty"),
        ("x" * 11, "11 characters; the limit is 10"),
        ("nul\x00byte", "control character (U+0000)"),
        ("bell\x07", "control character (U+0007)"),
    ],
)
def test_clean_text_refuses(text, reason):
    with pytest.raises(InvalidRequest, match=re.escape(reason)):
        clean_text(text, max_chars=10, what="post")


def test_symbols_are_normalised_and_checked():
    assert normalise_symbol(" aapl ") == "AAPL"
    assert normalise_symbol("BRK.B") == "BRK.B"
    for bad in ("", "1ABC", "A-B", "ABCDEFGHIJK", "$AAPL"):
        with pytest.raises(InvalidRequest):
            normalise_symbol(bad)
