"""Plain-text SOPs get sections from their numbered headings, as Markdown does; numbered list items stay
body text; a heading is never quoted as an answer."""

from __future__ import annotations

from ingest.loaders import load_file
from ingest.loaders.headings import find_headings
from ingest.loaders.text import parse_text

ROTA_SOP = """客服排班管理规范
版本：V2.0  生效日期：2026-01-01

一、适用范围
本规范适用于商城全体在线客服人员。

二、调班规则
客服调班须提前3个工作日在排班系统提交申请，经班组长审批后生效。
每月调班不超过2次。

三、申请流程
1. 登录排班系统后点击“调班申请”。
2. 选择调班日期和替班同事
3. 提交后等待组长审批

四、请假规定
（一）病假
病假须在当班开始前2小时向班组长报备。
（二）事假
事假须提前1天申请。
"""


def _sections(text: str) -> dict[str, str]:
    doc = parse_text(text, "fallback")
    return {" > ".join(b.headings): b.text for b in doc.blocks}


def test_chinese_numbered_headings_become_the_heading_path():
    sections = _sections(ROTA_SOP)
    assert sections["二、调班规则"].startswith("客服调班须提前3个工作日")
    assert sections["四、请假规定 > （一）病假"] == "病假须在当班开始前2小时向班组长报备。"
    assert sections["四、请假规定 > （二）事假"] == "事假须提前1天申请。", "a sibling replaces its sibling"


def test_a_numbered_list_inside_a_section_stays_body_text():
    sections = _sections(ROTA_SOP)
    steps = sections["三、申请流程"]
    assert steps.splitlines() == ["1. 登录排班系统后点击“调班申请”。", "2. 选择调班日期和替班同事", "3. 提交后等待组长审批"]
    assert not any("选择调班日期" in s for s in sections), "an item without a full stop is still an item"


def test_arabic_numbered_lines_with_text_under_them_are_headings():
    text = "第一章 总则\n1. 适用范围\n本规范适用于全体客服。\n2. 术语\n替班：代替他人当班。\n第二章 附则\n本规范自发布之日起施行。\n"
    assert _sections(text) == {
        "第一章 总则 > 1. 适用范围": "本规范适用于全体客服。",
        "第一章 总则 > 2. 术语": "替班：代替他人当班。",
        "第二章 附则": "本规范自发布之日起施行。",
    }


def test_what_is_not_a_heading():
    lines = [
        "一、调班须提前3个工作日申请，经组长审批。",  # a sentence, not a name
        "3.5元的运费由顾客承担",  # a price, not section 3.5
        "注意事项：",
        "1. 不得代他人申请",  # a list that a colon introduces
        "1.1 适用范围",
        "本规范适用于全体客服。",
    ]
    assert find_headings(lines) == [None, None, None, None, 6, None]


def test_a_gbk_sop_txt_is_answerable_with_its_section_and_no_heading_quoted(fresh_services, tmp_path):
    path = tmp_path / "排班规范.txt"
    path.write_bytes(ROTA_SOP.encode("gbk"))
    doc = load_file(path)
    assert doc.title == "客服排班管理规范" and doc.version == "V2.0"
    assert all(b.text.splitlines()[0] not in {"二、调班规则", "客服排班管理规范"} for b in doc.blocks)

    fresh_services.ingestor().ingest_file(path, "kb1")
    answer = fresh_services.pipeline("hybrid", rerank=False).ask("客服调班要提前多久申请", kb_ids=["kb1"])
    assert not answer.refused and "3个工作日" in answer.answer
    assert answer.citations[0].section == "二、调班规则"
    assert all("调班规则" not in c.quote for c in answer.citations)
