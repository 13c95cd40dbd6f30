"""Homophone typos from a pinyin input method are corrected toward the knowledge base's words, and
nothing else is: correct questions, words the knowledge base lacks, digits and Latin text stay."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections import Counter

import pytest

from assistant.text import spelling
from assistant.text.spelling import HomophoneCorrector
from assistant.text.tokenize import Tokenizer
from tests.conftest import DEMO_EVAL, REPO

TYPOS = ("发漂", "退宽", "积粉", "快地")  # the typos the demo questions carry


@pytest.fixture(scope="module")
def corrector(demo_services) -> HomophoneCorrector:
    return HomophoneCorrector(demo_services.keyword.doc_freq, demo_services.tokenizer.cut)


@pytest.fixture(scope="module")
def demo_questions() -> list[dict]:
    lines = (DEMO_EVAL / "queries.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _index_of(*texts: str, bigrams: bool = True, terms: tuple[str, ...] = ()):
    """``doc_freq`` over a few texts, one chunk each, analysed as the keyword index does."""
    tokenizer = Tokenizer(terms)
    counts = Counter(t for text in texts for t in set(tokenizer.keyword_terms(text, bigrams=bigrams)))
    return lambda terms: {t: counts[t] for t in terms}, tokenizer


# -------------------------------------------------------------------------- against the demo knowledge base
@pytest.mark.parametrize(
    ("question", "expected", "typed", "meant", "pinyin"),
    [
        ("发漂开错了怎么办", "发票开错了怎么办", "发漂", "发票", "fa piao"),
        ("退宽什么时候到 仓库都收到货了", "退款什么时候到 仓库都收到货了", "退宽", "退款", "tui kuan"),
        ("积粉为啥还没到账", "积分为啥还没到账", "积粉", "积分", "ji fen"),
        ("快地显示签收了但我没收到啊？？", "快递显示签收了但我没收到啊？？", "快地", "快递", "kuai di"),
        ("我才８００积粉 能抵钱不", "我才８００积分 能抵钱不", "积粉", "积分", "ji fen"),
        ("寄新彊要几天", "寄新疆要几天", "新彊", "新疆", "xin jiang"),
        ("包修期多久", "保修期多久", "包修", "保修", "bao xiu"),
        ("推宽多久到账", "退款多久到账", "推宽", "退款", "tui kuan"),
    ],
)
def test_homophone_typos_become_the_knowledge_base_word(corrector, question, expected, typed, meant, pinyin):
    result = corrector.run(question)
    assert result.text == expected
    assert result.original == question and result.changed
    (correction,) = result.corrections
    assert (correction.original, correction.corrected, correction.pinyin) == (typed, meant, pinyin)
    assert question[correction.start : correction.start + 2] == typed
    assert correction.doc_freq >= corrector.min_doc_freq


def test_demo_questions_without_typos_come_out_unchanged(corrector, demo_questions):
    clean = [q["text"] for q in demo_questions if not any(typo in q["text"] for typo in TYPOS)]
    assert len(clean) >= 50
    rewritten = {q: corrector.run(q).text for q in clean}
    assert {q: t for q, t in rewritten.items() if t != q} == {}


def test_unanswerable_questions_keep_their_words_and_lose_only_typos(corrector, demo_questions):
    unanswerable = [q["text"] for q in demo_questions if q["is_impossible"]]
    assert "延保服务怎么买？多少钱？" in unanswerable
    rewritten = {q: corrector.run(q).text for q in unanswerable}
    assert {q: t for q, t in rewritten.items() if t != q} == {"发漂能开英文抬头的吗？": "发票能开英文抬头的吗？"}


@pytest.mark.parametrize(
    "question",
    [
        "延保服务多少钱",  # the knowledge base does not talk about 延保, and no word of its sound is there
        "iPhone 15 的包修多久",  # Latin text and digits stay; 包 is held by 的包, 修 by 修多 in the knowledge base
        "尽快地退款",  # 尽快递 would break 尽快 for 快递
        "很快地处理好",
        "发票邮件里的下载链接多久失效",  # 失效 is ordinary Chinese even though the knowledge base says 时效
        "保修几年",  # 几年 is ordinary Chinese; 保修期 is the knowledge base's, not the customer's
        "春节期间几号停止发货",  # 机号 (of 手机号) is a pair of the knowledge base, not a word
        "5000块的笔记本能放快递柜吗",  # 块的 was not typed as one word, so both characters may not change
        "招不招兼职客服",  # 招 read sháo is no reading in use
        "退款是多久",
        "七天无理由退货",
    ],
)
def test_correct_text_and_unknown_topics_are_left_alone(corrector, question):
    assert corrector.run(question) == spelling.SpellingResult(question, question)


def test_keyword_index_counts_chunks_per_term(demo_services):
    counts = demo_services.keyword.doc_freq(["发票", "#发票", "#发漂", "发票"])
    assert counts["发票"] > 0 and counts["#发票"] >= counts["发票"]
    assert counts["#发漂"] == 0 and len(counts) == 3


def test_correcting_a_question_takes_about_a_millisecond(corrector, demo_questions):
    corrector.run("发漂开错了怎么办")  # the pinyin table is built once per process, on first use
    times = []
    for question in demo_questions:
        started = time.perf_counter()
        corrector.run(question["text"])
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    print(f"homophone correction: median {median * 1e3:.3f} ms, max {max(times) * 1e3:.3f} ms, n={len(times)}")
    assert median < 0.002


# -------------------------------------------------------------------------- rules, on a small index
def test_a_word_the_knowledge_base_knows_is_never_changed():
    invoices = ("发票开具", "发票抬头", "电子发票")
    doc_freq, tokenizer = _index_of(*invoices)
    assert HomophoneCorrector(doc_freq, tokenizer.cut).run("发漂怎么用").text == "发票怎么用"
    doc_freq, tokenizer = _index_of(*invoices, "发漂使用说明", "染发前先用发漂")  # a salon's hair bleach
    assert HomophoneCorrector(doc_freq, tokenizer.cut).run("发漂怎么用").changed is False


def test_the_replacement_must_be_frequent_enough_in_the_knowledge_base():
    doc_freq, tokenizer = _index_of("电子发票开具", "退款到账")
    assert HomophoneCorrector(doc_freq, tokenizer.cut, min_doc_freq=1).run("发漂怎么开").text == "发票怎么开"
    assert HomophoneCorrector(doc_freq, tokenizer.cut, min_doc_freq=2).run("发漂怎么开").text == "发漂怎么开"


def test_ordinary_chinese_the_knowledge_base_lacks_is_what_the_customer_meant():
    doc_freq, tokenizer = _index_of("配送时效说明", "退款时效", "发货时间", "发货地址")
    corrector = HomophoneCorrector(doc_freq, tokenizer.cut)
    assert corrector.run("下载链接多久失效").changed is False, "失效 is a frequent word, 时效 is not what was meant"
    assert corrector.run("漏发或少发怎么办").changed is False, "或 standing alone is grammar, not a typo of 货"
    assert corrector.run("下载链接多久时笑").text == "下载链接多久时效", "a non-word is still corrected"


def test_a_character_shared_by_two_words_goes_to_the_stronger_word():
    spending = ("钱花在哪", "钱花在哪了")
    doc_freq, tokenizer = _index_of(*spending, terms=("钱花",))
    assert HomophoneCorrector(doc_freq, tokenizer.cut).run("为啥欠花呗还是").text == "为啥钱花呗还是"
    doc_freq, tokenizer = _index_of(*spending, *["花呗还款", "花呗额度"] * 2, terms=("钱花",))
    corrector = HomophoneCorrector(doc_freq, tokenizer.cut)
    assert corrector.run("为啥欠花呗还是").changed is False, "the knowledge base pairs 花 with 呗 more often"


def test_an_index_without_character_pairs_corrects_nothing():
    doc_freq, tokenizer = _index_of("电子发票开具", "发票抬头", bigrams=False)
    assert HomophoneCorrector(doc_freq, tokenizer.cut).run("发漂怎么开").changed is False


def test_the_segmenter_defaults_to_the_ordinary_dictionary():
    doc_freq, _ = _index_of("电子发票开具", "发票抬头")
    assert HomophoneCorrector(doc_freq).run("发漂怎么开").text == "发票怎么开"


def test_questions_without_chinese_pairs_are_returned_as_they_are():
    corrector = HomophoneCorrector(lambda terms: pytest.fail("nothing to look up"))
    for question in ("", "iPhone 15 Pro", "退", "refund 多 days"):
        assert corrector.run(question) == spelling.SpellingResult(question, question)


def test_pinyin_data_comes_from_the_package_without_any_download():
    script = """
import socket

def no_network(*args, **kwargs):
    raise AssertionError("tried to reach the network")

socket.socket.connect = socket.create_connection = no_network
from assistant.text import spelling
table = spelling._pinyin_table()
assert "票" in table.homophones("漂") and "递" in table.homophones("地")
assert table.readings("不") == ("bu",), "archaic readings (fou) are not in use"
assert spelling._pinyin_table() is table, "built once per process"
assert spelling.HomophoneCorrector(lambda terms: {t: 3 for t in terms if t in ("发票", "#发票")}).run("发漂").text == "发票"
"""
    done = subprocess.run([sys.executable, "-c", script], check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_pinyin_table_kept_in_a_cache_folder_reads_back_whole_and_a_damaged_one_is_built_again(tmp_path, caplog):
    """Reversing pypinyin's data takes a quarter of a second of every server start; the next start
    reads what the last one kept."""
    build = spelling._pinyin_table.__wrapped__  # past the once-per-process memo: each call reads or builds
    fresh = build(None)
    assert build(tmp_path).state() == fresh.state()
    [kept] = tmp_path.glob("pinyin-table-*.json")
    read = build(tmp_path)
    assert read.state() == fresh.state()
    assert read.homophones("漂") == fresh.homophones("漂") and "票" in read.homophones("漂")
    assert read.readings("地") == fresh.readings("地") == ("di", "de")

    kept.write_text('{"readings": {"票": ', encoding="utf-8")  # cut off, as by a full disk
    assert build(tmp_path).state() == fresh.state()
    assert "unreadable" in caplog.text
    assert json.loads(kept.read_text(encoding="utf-8"))["common"] == "".join(sorted(fresh.common)), "kept whole again"
