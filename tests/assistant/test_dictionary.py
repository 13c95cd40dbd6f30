from assistant.text.dictionary import load_domain_terms
from assistant.text.tokenize import tokenize


def test_domain_terms_from_tags_and_user_dictionary_stay_whole(tmp_path):
    assert "以旧换新补贴券" not in tokenize("以旧换新补贴券怎么用")
    user_dict = tmp_path / "terms.txt"
    user_dict.write_text("# 产品与活动\n以旧换新补贴券\n优选PLUS会员 10\n", encoding="utf-8")
    assert load_domain_terms(["运费险", "x"], user_dict) == 3
    terms = tokenize("以旧换新补贴券怎么用？运费险赔多少")
    assert "以旧换新补贴券" in terms and "运费险" in terms
    assert "补贴" in terms, "search mode still emits the parts, so older index entries keep matching"
