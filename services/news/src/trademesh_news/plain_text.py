"""Feed titles and summaries as plain text: whatever markup a feed carried is dropped, its
entities decoded, and the rest collapsed to single spaces."""

import re
from html.parser import HTMLParser

_WHITESPACE = re.compile(r"\s+")
# Their content is code or styling, never text for a reader.
_SKIPPED = frozenset({"script", "style", "template", "noscript"})


class _TextCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        else:
            self.parts.append(" ")  # block elements separate words

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self._skipping:
            self._skipping -= 1
        else:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def plain_text(markup: str, max_chars: int) -> str:
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    text = _WHITESPACE.sub(" ", "".join(collector.parts)).strip()
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text
