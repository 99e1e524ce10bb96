"""Text as HTML for display: every character the author typed is escaped; the only markup is
what this module adds (links for http(s) URLs, spans for cashtags, line breaks).

Rendered on every read rather than stored, so a fix here applies to old posts too.
"""

import re
from html import escape
from urllib.parse import urlsplit

from trademesh_social.text import CASHTAG

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
# Sentence punctuation after a URL belongs to the sentence, not the link.
_TRAILING_PUNCTUATION = ".,;:!?)]}*_~"
_TOKEN = re.compile(f"(?P<url>{_URL.pattern})|(?P<cashtag>{CASHTAG.pattern})", re.IGNORECASE)
LINK_REL = "nofollow noopener noreferrer ugc"


def _plain(text: str) -> str:
    return escape(text, quote=True).replace("\n", "<br>")


def _link(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    href = escape(url, quote=True)
    return f'<a href="{href}" rel="{LINK_REL}" target="_blank">{href}</a>'


def _split_url(candidate: str) -> tuple[str, str]:
    url = candidate.rstrip(_TRAILING_PUNCTUATION)
    return url, candidate[len(url) :]


def render_html(text: str) -> str:
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(_plain(text[position : match.start()]))
        position = match.end()
        if match.group("url") is not None:
            url, rest = _split_url(match.group("url"))
            link = _link(url) if url else None
            out.append(_plain(match.group(0)) if link is None else link + _plain(rest))
        else:
            tag = match.group("cashtag")
            symbol = escape(tag[1:].upper(), quote=True)
            out.append(f'<span class="cashtag" data-symbol="{symbol}">{_plain(tag)}</span>')
    out.append(_plain(text[position:]))
    return "".join(out)
