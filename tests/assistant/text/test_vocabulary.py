"""Domain terms stay whole words: from a user dictionary, from document tags, and across processes."""

from assistant.text.dictionary import read_user_dictionary
from assistant.text.tokenize import Tokenizer


def test_domain_terms_from_tags_and_user_dictionary_stay_whole(tmp_path):
    assert "以旧换新补贴券" not in Tokenizer().terms("以旧换新补贴券怎么用")
    user_dict = tmp_path / "terms.txt"
    user_dict.write_text("# 产品与活动\n以旧换新补贴券\n优选PLUS会员 10\n", encoding="utf-8")
    tokenizer = Tokenizer(read_user_dictionary(user_dict))
    assert tokenizer.add_terms(["运费险", "x"]) == 2
    terms = tokenizer.terms("以旧换新补贴券怎么用？运费险赔多少")
    assert "以旧换新补贴券" in terms and "运费险" in terms
    assert "补贴" in terms, "search mode still emits the parts, so older index entries keep matching"


def test_two_tokenizers_never_share_a_dictionary():
    taught, plain = Tokenizer(), Tokenizer()
    taught.add_terms(["以旧换新补贴券"])
    assert "以旧换新补贴券" in taught.terms("以旧换新补贴券怎么用")
    assert "以旧换新补贴券" not in plain.terms("以旧换新补贴券怎么用")


class _Catalog:
    """A vocabulary source another process writes to: only its version tells that it changed."""

    def __init__(self):
        self.tags, self.version, self.reads = set(), 0, 0

    def vocabulary_version(self) -> str:
        return str(self.version)

    def vocabulary(self) -> set[str]:
        self.reads += 1
        return set(self.tags)


def test_a_tokenizer_learns_terms_tagged_through_another_process():
    catalog = _Catalog()
    tokenizer = Tokenizer()
    tokenizer.follow(catalog, refresh_seconds=0)
    assert "以旧换新补贴券" not in tokenizer.terms("以旧换新补贴券怎么用")
    catalog.tags.add("以旧换新补贴券")
    catalog.version += 1
    assert "以旧换新补贴券" in tokenizer.terms("以旧换新补贴券怎么用")
    reads = catalog.reads
    tokenizer.terms("运费险")
    assert catalog.reads == reads, "the terms are read again only when their version changes"


def test_an_unreadable_user_dictionary_is_a_clear_error(tmp_path):
    import pytest

    from assistant.errors import ConfigError

    with pytest.raises(ConfigError, match="terms.txt cannot be read"):
        read_user_dictionary(tmp_path / "terms.txt")
    (tmp_path / "gbk.txt").write_bytes("以旧换新".encode("gbk"))
    with pytest.raises(ConfigError, match="gbk.txt is not UTF-8"):
        read_user_dictionary(tmp_path / "gbk.txt")
