from trademesh_social.sentiment import sentiment_score


def test_scores_are_signed_and_bounded():
    bullish = sentiment_score("Great earnings, love this stock, strong buy!")
    bearish = sentiment_score("Terrible guidance, awful quarter, I hate this")
    neutral = sentiment_score("The company reports on Tuesday")
    assert 0.5 < bullish <= 1
    assert -1 <= bearish < -0.5
    assert neutral == 0


def test_negation_flips_the_score():
    assert sentiment_score("this is good") > 0
    assert sentiment_score("this is not good") < 0
