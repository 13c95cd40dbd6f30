"""Routing rules: what matches (keywords, pattern, language, platform, chat, department, role), in which
order, what a rule may choose (never more knowledge bases than the asker may search), and a rule book
that reloads only when the store's revision moved."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from pydantic import ValidationError

from assistant.domain import RouteContext, RoutingRule, RuleAction, RuleMatch, RuleSpec
from assistant.rules import CompiledRule, RuleBook, first_match, route_for
from assistant.storage.sql.engine import make_engine, migrate
from assistant.storage.sql.rules import SqlRuleStore

FEISHU_FINANCE = RouteContext(platform="feishu", chat_id="oc_fin", user_id="ou_1", departments=["finance"],
                              role="agent", channel="im:feishu")
API_CUSTOMER = RouteContext(platform="api", role="customer", channel="api")


def rule(rule_id: int, *, enabled: bool = True, name: str = "", **match) -> RoutingRule:
    return RoutingRule(id=rule_id, position=rule_id, name=name or f"r{rule_id}", enabled=enabled,
                       match=RuleMatch(**match), action=RuleAction(kbs=[f"kb{rule_id}"]),
                       updated_at=datetime.now(timezone.utc))


def hit(question: str, context: RouteContext, *rules: RoutingRule, language: str | None = None) -> int | None:
    found = first_match([CompiledRule.of(r) for r in rules], question, context, language)
    return found.id if found else None


def test_keywords_match_anywhere_ignoring_case_and_full_width():
    invoice = rule(1, keywords=["发票", "Invoice", "VAT"])
    assert hit("电子发票怎么开？", API_CUSTOMER, invoice) == 1
    assert hit("where is my INVOICE", API_CUSTOMER, invoice) == 1
    assert hit("ｖａｔ receipt please", API_CUSTOMER, invoice) == 1  # full-width letters
    assert hit("退款多久到账", API_CUSTOMER, invoice) is None


def test_a_pattern_is_searched_in_the_question_width_folded_and_ignoring_case():
    order = rule(1, pattern=r"\d{8}-\d{4}")
    assert hit("订单２０２４０５２１-８８９２到哪了", API_CUSTOMER, order) == 1  # full-width digits
    assert hit("订单到哪了", API_CUSTOMER, order) is None
    assert hit("REFUND please", API_CUSTOMER, rule(2, pattern="^refund")) == 2


def test_keywords_and_pattern_must_both_hold_when_both_are_set():
    both = rule(1, keywords=["发票"], pattern="红字|冲红")
    assert hit("发票怎么冲红", API_CUSTOMER, both) == 1
    assert hit("发票怎么开", API_CUSTOMER, both) is None


def test_languages_match_the_detected_language_or_the_one_given():
    english = rule(1, languages=["en"])
    assert hit("How long does a refund take?", API_CUSTOMER, english) == 1
    assert hit("退款多久到账？", API_CUSTOMER, english) is None
    assert hit("退款多久到账？", API_CUSTOMER, english, language="en") == 1
    assert hit("我的 order 20240521 的 refund", API_CUSTOMER, rule(2, languages=["mixed"])) == 2


def test_who_asks_from_where_platform_chat_department_role():
    assert hit("发票", FEISHU_FINANCE, rule(1, platforms=["feishu"])) == 1
    assert hit("发票", API_CUSTOMER, rule(1, platforms=["feishu"])) is None
    assert hit("发票", API_CUSTOMER, rule(1, platforms=["api"])) == 1  # the door counts as a platform
    assert hit("发票", FEISHU_FINANCE, rule(1, chats=["oc_fin"])) == 1
    assert hit("发票", FEISHU_FINANCE, rule(1, chats=["feishu:oc_fin"])) == 1
    assert hit("发票", FEISHU_FINANCE, rule(1, chats=["dingtalk:oc_fin"])) is None
    assert hit("发票", API_CUSTOMER, rule(1, chats=["oc_fin"])) is None  # no chat at all
    assert hit("发票", FEISHU_FINANCE, rule(1, departments=["sales", "finance"])) == 1
    assert hit("发票", API_CUSTOMER, rule(1, departments=["finance"])) is None
    assert hit("发票", FEISHU_FINANCE, rule(1, roles=["agent", "knowledge_manager"])) == 1
    assert hit("发票", API_CUSTOMER, rule(1, roles=["agent"])) is None


def test_empty_lists_match_anything_and_every_set_field_must_hold():
    assert hit("随便问问", API_CUSTOMER, rule(1)) == 1
    strict = rule(1, keywords=["发票"], platforms=["feishu"], roles=["agent"], departments=["finance"])
    assert hit("发票", FEISHU_FINANCE, strict) == 1
    assert hit("发票", FEISHU_FINANCE.model_copy(update={"role": "customer"}), strict) is None


def test_the_first_enabled_matching_rule_wins_in_order():
    rules = [rule(1, keywords=["发票"], enabled=False), rule(2, keywords=["发票"]), rule(3)]
    assert hit("发票", API_CUSTOMER, *rules) == 2
    assert hit("退款", API_CUSTOMER, *rules) == 3
    assert hit("发票", API_CUSTOMER, rules[2], rules[1]) == 3


def test_a_bad_pattern_is_refused_naming_the_field_and_unknown_fields_too():
    with pytest.raises(ValidationError) as caught:
        RuleSpec.model_validate({"name": "x", "match": {"pattern": "(发票"}})
    assert caught.value.errors()[0]["loc"] == ("match", "pattern")
    assert "not a valid regular expression" in str(caught.value)
    with pytest.raises(ValidationError) as caught:
        RuleSpec.model_validate({"name": "x", "action": {"style": "poetic"}})
    assert caught.value.errors()[0]["loc"] == ("action", "style")
    with pytest.raises(ValidationError) as caught:
        RuleSpec.model_validate({"name": "x", "match": {"keyword": ["发票"]}})
    assert caught.value.errors()[0]["loc"] == ("match", "keyword")


def test_a_rule_narrows_the_searchable_knowledge_bases_and_never_widens_them():
    r = rule(1).model_copy(update={"action": RuleAction(kbs=["finance", "hr"], tools=[], style="brief")})
    route = route_for(r, ["support", "finance"])
    assert (route.kbs, route.dropped, route.tools) == (["finance"], ["hr"], [])
    assert route.guidance is not None and route.guidance.style == "brief"
    keep = rule(2).model_copy(update={"action": RuleAction(backend="fast")})
    assert route_for(keep, ["support", "finance"]).kbs == ["support", "finance"]  # kbs None: as the caller had them
    assert route_for(None, ["support"]).kbs == ["support"] and route_for(None, ["support"]).rule is None


def test_the_rule_book_reloads_when_and_only_when_the_revision_moved(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'rules.db'}")
    migrate(engine)
    store = SqlRuleStore(engine)
    book = RuleBook(store)
    assert book.first("发票", API_CUSTOMER) is None
    loads = []
    original = store.list_rules
    store.list_rules = lambda: loads.append(1) or original()  # type: ignore[method-assign]
    for _ in range(3):
        book.first("发票", API_CUSTOMER)
    assert loads == []  # the revision did not move: the cached rules serve
    other = SqlRuleStore(engine)  # another process's store on the same database
    made = other.create(RuleSpec(name="invoice", match=RuleMatch(keywords=["发票"])), by="x")
    assert book.first("发票", API_CUSTOMER).id == made.id and len(loads) == 1
    other.update(made.id, RuleSpec(name="invoice", enabled=False, match=RuleMatch(keywords=["发票"])), by="x")
    assert book.first("发票", API_CUSTOMER) is None and len(loads) == 2
    engine.dispose()
