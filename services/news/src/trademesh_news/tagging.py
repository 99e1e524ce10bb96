"""Which tickers an article is about: cashtags, exchange notation and company names.

Names match as whole words and, being proper nouns, case-sensitively ("Apple" tags AAPL,
"apple pie" does not). Only the instruments listed here are ever tagged.
"""

import re

# symbol -> names a story uses for the company.
COMPANIES: dict[str, tuple[str, ...]] = {
    "AAPL": ("Apple", "iPhone maker"),
    "MSFT": ("Microsoft",),
    "GOOGL": ("Alphabet", "Google"),
    "AMZN": ("Amazon", "Amazon.com"),
    "NVDA": ("Nvidia", "NVIDIA"),
    "META": ("Meta Platforms", "Meta", "Facebook"),
    "TSLA": ("Tesla",),
    "JPM": ("JPMorgan", "JPMorgan Chase", "JP Morgan", "J.P. Morgan"),
    "V": ("Visa",),
    "KO": ("Coca-Cola", "Coca Cola"),
}
SYMBOLS = frozenset(COMPANIES)

_CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z]{1,6}(?:\.[A-Za-z]{1,2})?)(?![\w$])")
_EXCHANGE = re.compile(r"\b(?:NASDAQ|Nasdaq|NYSE|Nyse)\s*:\s*([A-Z]{1,6}(?:\.[A-Z]{1,2})?)\b")


def _name_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    # Not part of a longer word or hyphenated compound ("Meta-analysis" is not Meta).
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])")


_NAMES = {symbol: _name_pattern(names) for symbol, names in COMPANIES.items()}


def tag_symbols(*texts: str) -> list[str]:
    """The listed symbols the texts mention, in symbol order."""
    found: set[str] = set()
    for text in texts:
        for match in _CASHTAG.finditer(text):
            found.add(match.group(1).upper())
        for match in _EXCHANGE.finditer(text):
            found.add(match.group(1))
        found.update(symbol for symbol, pattern in _NAMES.items() if pattern.search(text))
    return sorted(found & SYMBOLS)
