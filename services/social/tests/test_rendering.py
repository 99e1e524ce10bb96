"""The html field can never carry markup the author typed: every hostile input comes out as
text, and the only elements are the ones the renderer makes."""

from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from trademesh_social.rendering import LINK_REL, render_html

ALLOWED = {
    "a": {"href", "rel", "target"},
    "span": {"class", "data-symbol"},
    "br": set(),
}

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(document.cookie)",
    '<a href="javascript:alert(1)">click</a>',
    'https://evil.example/"onmouseover="alert(1)',
    "https://evil.example/<script>",
    "https://x.example/?a=1&b=<2>'\"",
    "<svg/onload=alert(1)>",
    "&lt;script&gt; already escaped",
    "<!-- comment --> <![CDATA[x]]>",
    '$AAPL<b>bold</b> $MSFT"onclick="x',
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "<style>body{display:none}</style>",
    "\u202eevil\u202c <iframe src=//x>",
]


class _Inspector(HTMLParser):
    """Collects the elements and the visible text of a fragment."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self.other: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "br":
            self.text.append("\n")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_data(self, data):
        self.text.append(data)

    def handle_comment(self, data):
        self.other.append(f"comment {data}")

    def handle_decl(self, decl):
        self.other.append(f"decl {decl}")

    def unknown_decl(self, data):
        self.other.append(f"decl {data}")

    def handle_pi(self, data):
        self.other.append(f"pi {data}")


def inspect(html: str) -> _Inspector:
    inspector = _Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector


def assert_safe(text: str) -> None:
    html = render_html(text)
    found = inspect(html)
    assert not found.other, found.other
    for tag, attrs in found.elements:
        assert tag in ALLOWED, (tag, html)
        assert set(attrs) <= ALLOWED[tag], (tag, attrs, html)
        if tag == "a":
            assert attrs["href"] is not None
            assert attrs["href"].lower().startswith(("http://", "https://")), html
            assert attrs["rel"] == LINK_REL
    # What a reader sees is exactly what the author wrote.
    assert "".join(found.text) == text


def test_hostile_inputs_render_as_text():
    for text in HOSTILE:
        assert_safe(text)
    assert render_html(HOSTILE[0]) == "&lt;script&gt;alert(1)&lt;/script&gt;"


@given(st.text(max_size=300))
def test_any_text_renders_safely(text):
    assert_safe(text)


@given(
    st.lists(
        st.sampled_from(
            ["<", ">", '"', "'", "&", "$AAPL", "https://a.example/", " ", "\n", "x", "="]
        ),
        max_size=40,
    )
)
def test_any_mix_of_markup_characters_renders_safely(parts):
    assert_safe("".join(parts))


def test_links_cashtags_and_line_breaks():
    html = render_html("Buy $aapl: see https://example.com/a?b=1&c=2.\nok")
    assert html == (
        'Buy <span class="cashtag" data-symbol="AAPL">$aapl</span>: see '
        f'<a href="https://example.com/a?b=1&amp;c=2" rel="{LINK_REL}" target="_blank">'
        "https://example.com/a?b=1&amp;c=2</a>.<br>ok"
    )


def test_only_http_links_are_made():
    assert "<a" not in render_html("ftp://example.com javascript://x.example")
    assert "<a" not in render_html("http:///no-host")
