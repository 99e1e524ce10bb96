import pytest

from trademesh_news.tagging import SYMBOLS, tag_symbols


@pytest.mark.parametrize(
    ("text", "symbols"),
    [
        ("Apple beats estimates", ["AAPL"]),
        ("$msft and $NVDA rally", ["MSFT", "NVDA"]),
        ("Coca-Cola (NYSE: KO) raises dividend", ["KO"]),
        ("Visa and JPMorgan Chase settle", ["JPM", "V"]),
        ("J.P. Morgan strategist says", ["JPM"]),
        ("Google's cloud unit and Alphabet's bets", ["GOOGL"]),
        ("Facebook parent Meta Platforms", ["META"]),
        ("Amazon.com opens stores", ["AMZN"]),
        ("Tesla, Nvidia lead", ["NVDA", "TSLA"]),
    ],
)
def test_tags(text, symbols):
    assert tag_symbols(text) == symbols


@pytest.mark.parametrize(
    "text",
    [
        "apple pie and pineapple",  # lower-case common noun, part of a word
        "A meta-analysis of studies",
        "Meta-analysis shows",
        "Teslas are cars; Microsoftie is slang",
        "$XYZ is not one of ours",
        "travel visa rules change",
        "NASDAQ: ZZZZ lists",
    ],
)
def test_no_false_tags(text):
    assert tag_symbols(text) == []


def test_every_listed_instrument_has_names():
    assert {"AAPL", "MSFT", "GOOGL", "AMZN", "NVDA", "META", "TSLA", "JPM", "V", "KO"} == SYMBOLS


def test_title_and_summary_both_count():
    assert tag_symbols("Markets wrap", "Shares of Apple and $KO rose") == ["AAPL", "KO"]
