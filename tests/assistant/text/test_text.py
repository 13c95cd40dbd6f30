"""Chinese is first-class: tokenization, sentence splitting, full-width text, mixed languages."""

from assistant.text.normalize import detect_language, normalize
from assistant.text.sentences import split_sentences
from assistant.text.tokenize import Tokenizer

TOKENIZER = Tokenizer()
tokenize = TOKENIZER.terms
content_terms = TOKENIZER.content_terms


def test_chinese_question_is_segmented_into_words_not_characters():
    assert {"电子", "发票", "退款"} <= set(tokenize("电子发票和退款"))


def test_full_width_digits_and_letters_meet_their_half_width_forms():
    assert tokenize("订单２０２４０５２１") == tokenize("订单20240521")
    assert "iphone" in tokenize("ＩＰｈｏｎｅ的保修")


def test_mixed_chinese_english_text_keeps_both_languages_in_one_pass():
    terms = tokenize("refund多久到账？iPhone 15 的 warranty")
    assert {"refund", "多久", "iphone", "15", "warranty"} <= set(terms)


def test_punctuation_of_both_widths_is_not_a_term():
    assert tokenize("，。！？、；：“”（）,.!?;:()") == []


def test_english_plurals_and_verb_forms_meet_their_stem():
    assert tokenize("refunds")[0] == tokenize("refund")[0]
    assert tokenize("processed")[0] == tokenize("process")[0]
    assert tokenize("address")[0] == "address"  # no stripping of a double s


def test_content_terms_drop_question_words_in_both_languages():
    terms = content_terms("电子发票怎么开？")
    assert {"电子", "发票", "开"} <= set(terms) and not {"怎么", "？"} & set(terms)
    assert "what" not in content_terms("What is the return policy?")


def test_chinese_sentences_end_at_full_width_terminators():
    text = "确认收货后24小时内开具。如需专票，请联系客服！退款多久到账？支付宝；微信"
    assert split_sentences(text) == ["确认收货后24小时内开具。", "如需专票，请联系客服！", "退款多久到账？", "支付宝；", "微信"]


def test_decimals_versions_abbreviations_and_list_numbers_do_not_end_sentences():
    text = "Refunds take 3.5 days, e.g. for cards. 本规范 V3.2 自即日起生效。\n1. 登录账号"
    assert split_sentences(text) == [
        "Refunds take 3.5 days, e.g. for cards.",
        "本规范 V3.2 自即日起生效。",
        "1. 登录账号",
    ]


def test_closing_quotes_stay_with_their_sentence():
    assert split_sentences("他说：“好的。”然后离开了。") == ["他说：“好的。”", "然后离开了。"]


def test_language_detection_routes_queries():
    assert detect_language("电子发票怎么开") == "zh"
    assert detect_language("How long do refunds take?") == "en"
    assert detect_language("refund policy 多久") == "mixed"


def test_normalize_turns_full_width_punctuation_and_case_half_width():
    assert normalize("ＡＢＣ，１２３？") == "abc,123?"
