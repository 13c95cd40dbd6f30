"""Randomized permissions: many departments, knowledge bases and principals asking many questions,
follow-ups that try to recall other principals' conversations, and FAQ near-duplicates across KBs.

Every KB's documents carry secret markers (in the text, the FAQ answers and the titles). For every
answer, the whole of it (text, citations, every retrieval stage's hits and snippets, the FAQ match,
the rewritten query, notes, refusal) must hold no marker of a KB the principal may not read; and
each principal's view of the audit log (over HTTP) must hold none either. Real models, real SQLite.
"""

from __future__ import annotations

import random
import string

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.access import may_read
from assistant.app.asking import Asking
from assistant.app.container import Services
from assistant.app.http_auth import Guard
from assistant.app.routes_audit import audit_router
from assistant.domain import DocumentMeta, ImRule, Principal
from connectors.gateway import MemoryRateLimiter
from tests.conftest import make_settings

SEED = 20261201
DEPARTMENTS = ["hr", "finance", "sales", "legal", "it", "ops"]
TOPICS = ["报销", "年假", "退款审批", "合同盖章", "设备申领"]


def marker(rng: random.Random) -> str:
    return "MK" + "".join(rng.choices(string.ascii_uppercase + string.digits, k=6))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    rng = random.Random(SEED)
    root = tmp_path_factory.mktemp("perm")
    settings = make_settings(root / "data", models={"reranker": "none"},
                             auth={"requests_per_minute": 100_000, "group_requests_per_minute": 100_000})
    with Services(settings) as services:
        for d in DEPARTMENTS:
            services.directory.create_department(d)
        kbs = {f"kb-{d}": d for d in DEPARTMENTS} | {"kb-open": None}
        markers: dict[str, list[str]] = {}
        files = root / "files"
        files.mkdir()
        for kb, department in kbs.items():
            services.catalog.create_kb(kb, f"{department or '公共'}知识库", department)
            if department and rng.random() < 0.4:  # some KBs are granted to another department for reading
                services.catalog.set_kb_access(kb, department, [rng.choice([d for d in DEPARTMENTS if d != department])])
            sop_mark, faq_mark, title_mark = marker(rng), marker(rng), marker(rng)
            markers[kb] = [sop_mark, faq_mark, title_mark]
            days = rng.randint(3, 60)
            sections = "\n".join(
                f"## {topic}\n{topic}须在 {days + i} 个工作日内办结，内部编号 {sop_mark}，由{department or '公共'}组负责。"
                for i, topic in enumerate(TOPICS)
            )
            sop = files / f"sop-{kb}.md"
            sop.write_text(f"# {kb} 办事规范 {title_mark}\n{sections}\n", encoding="utf-8")
            faq = files / f"faq-{kb}.csv"
            faq.write_text("question,answer\n" + "".join(
                f"{topic}需要多久？,{topic}一般 {days} 天完成，答复码 {faq_mark}。\n" for topic in TOPICS
            ), encoding="utf-8")
            for path in (sop, faq):
                result = services.ingestor().ingest_file(path, kb, DocumentMeta(title=f"{path.stem} {title_mark}"))
                assert result.status != "failed", result.error
        principals = make_principals(services, rng)
        yield services, kbs, markers, principals, rng


def make_principals(services: Services, rng: random.Random) -> list[Principal]:
    auth = services.auth
    principals: list[Principal] = []
    for i in range(8):  # console users
        role = rng.choice(["agent", "knowledge_manager", "customer"])
        mine = rng.sample(DEPARTMENTS, rng.randint(0, 2))
        services.directory.create_user(f"user{i}", "x", role, mine)
        principals.append(auth.from_session(auth.session_cookie(Principal(kind="user", id=f"user:user{i}"))))
    for i in range(8):  # API keys
        role = rng.choice(["agent", "knowledge_manager", "customer", "agent"])
        _, key = auth.create_key(role, departments=rng.sample(DEPARTMENTS, rng.randint(0, 2)), name=f"key{i}")
        principals.append(auth.from_bearer(f"Bearer {key}"))
    for i, department in enumerate(rng.sample(DEPARTMENTS, 4)):  # IM groups mapped by rules
        services.directory.add_im_rule(ImRule(platform="feishu", chat_id=f"oc_{i}", department=department,
                                              role=rng.choice(["agent", "customer"])))
        principals += [auth.im_principal("feishu", f"oc_{i}", f"ou_{i}_{j}") for j in range(2)]
    principals.append(auth.im_principal("dingtalk", "cid-unmapped", "u1"))  # no rule: a customer of no department
    assert all(p is not None for p in principals)
    return principals


def questions(rng: random.Random, markers: dict[str, list[str]]) -> list[str]:
    topic = rng.choice(TOPICS)
    other = rng.choice([m for ms in markers.values() for m in ms])
    return rng.choice([
        [f"{topic}需要多久？"],  # the FAQ near-duplicate every KB answers differently
        [f"{topic}的办理时限是多少个工作日？", "那由哪个组负责？"],
        [f"内部编号 {other} 是什么规定？"],  # asks by another KB's secret
        ["上面说的编号是多少？"],  # a follow-up with no start: tries to recall someone else's conversation
        [f"{topic}需要多久？", "答复码是什么？", "再说一遍编号"],
    ])


def test_no_principal_ever_sees_a_forbidden_knowledge_base(world):
    services, kbs, markers, principals, rng = world
    asking = Asking(services, MemoryRateLimiter())
    catalog = {kb.name: kb for kb in services.catalog.list_kbs()}
    asked = hits = forbidden_checks = 0
    typed: dict[str, set[str]] = {}
    for _ in range(300):
        principal = rng.choice(principals)
        allowed = {name for name, kb in catalog.items() if may_read(principal, kb)}
        forbidden = [m for kb, ms in markers.items() if kb not in allowed for m in ms]
        conversation = rng.choice(["c1", "c2", None])  # shared ids: each principal still has its own
        for question in questions(rng, markers):
            typed.setdefault(principal.id, set()).update(m for m in forbidden if m in question)
            answer = asking.ask(principal, question, channel="api", conversation=conversation or None)
            asked += 1
            whole = answer.model_dump_json()
            assert set(answer.trace.kb_ids) <= allowed
            for stage in answer.trace.stages.values():
                for hit in stage:
                    hits += 1
                    assert services.catalog.get_document(hit.doc_id).kb in allowed, (principal.id, hit.doc_id)
            for citation in answer.citations:
                assert services.catalog.get_document(citation.doc_id).kb in allowed
            # a marker the asker typed comes back in the question's echo; any other is a leak
            leaked = [m for m in forbidden if m in whole and m not in typed[principal.id]]
            forbidden_checks += len(forbidden)
            assert not leaked, (principal.id, question, leaked)
    # each principal's conversations are its own, whatever ids were sent
    with services.engine.connect() as conn:
        from sqlalchemy import text

        keys = [row[0] for row in conn.execute(text("SELECT DISTINCT conversation_id FROM conversation_turns"))]
    assert keys and all(k.split("|", 1)[0] in {p.id for p in principals} for k in keys)
    print(f"\npermissions: {len(principals)} principals, {len(kbs)} KBs, {asked} questions, {hits} hits checked, "
          f"{forbidden_checks} forbidden-marker checks, 0 leaks")

    # the audit log as each principal may read it over HTTP: no forbidden marker, no forbidden KB
    app = FastAPI()
    app.include_router(audit_router(services, Guard(lambda: services.auth)))
    readers = 0
    for principal in principals:
        if principal.role not in ("knowledge_manager", "admin"):
            continue
        _, key = services.auth.create_key(principal.role, departments=principal.departments)
        view = TestClient(app, headers={"Authorization": f"Bearer {key}"})
        allowed = {name for name, kb in catalog.items() if may_read(principal, kb)}
        forbidden = [m for kb, ms in markers.items() if kb not in allowed for m in ms]
        body = view.get("/v1/audit", params={"limit": 1000}).text
        exported = view.get("/v1/audit/export", params={"format": "csv"}).text
        anyone_typed = set().union(*typed.values())  # a question's own words are not knowledge-base text
        for m in forbidden:
            assert m in anyone_typed or (m not in body and m not in exported), (principal.id, m)
        for entry in view.get("/v1/audit", params={"limit": 1000}).json()["entries"]:
            assert set(entry["kbs"]) <= allowed
            assert {services.catalog.get_document(s["doc_id"]).kb for s in entry["sources"]} <= allowed
        readers += 1
    assert readers >= 2
    customer = next(p for p in principals if p.role == "customer")
    _, key = services.auth.create_key("customer", departments=customer.departments)
    assert TestClient(app, headers={"Authorization": f"Bearer {key}"}).get("/v1/audit").status_code == 403
