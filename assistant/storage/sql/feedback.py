"""Votes on answers, the curation queue (gaps) and the IM messages that carried answers, in SQL.

A gap is keyed by its question as people would read it (width, case, spaces and end punctuation do
not count) with the knowledge bases searched and the asker's departments: the same question refused
fifty times is one gap asked fifty times, not fifty rows for a knowledge manager to wade through.
Visibility filters run in the database, so the queue pages and counts without loading it: a gap's
knowledge bases are a JSON list, and "every one of them is readable" is "nothing quoted is left once
the readable names are removed from the text" (knowledge base names hold no quotes).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Literal

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from assistant.domain import AuditEntry, FeedbackVote, Gap, GapQuery, GapReason, Vote
from assistant.storage.interfaces import GapPage, ImReply
from assistant.storage.sql.schema import feedback, gaps, im_replies
from assistant.text.normalize import normalize

_END_PUNCTUATION = "?？。.!！~～ "


def question_key(question: str, kbs: list[str], departments: list[str]) -> str:
    """What makes two gaps the same: the normalised question, the KBs searched, the asker's departments."""
    text = normalize(question).rstrip(_END_PUNCTUATION)
    raw = json.dumps([text, sorted(kbs), sorted(departments)], ensure_ascii=False)
    return hashlib.sha1(raw.encode()).hexdigest()


class SqlFeedback:
    """See ``Feedback`` for the contract."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- votes -----------------------------------------------------------------------------------
    def vote(self, entry_id: int, principal_id: str, vote: Vote, *, channel: str = "", comment: str = "") -> bool:
        mine = (feedback.c.entry_id == entry_id, feedback.c.principal_id == principal_id)
        values = {"vote": 1 if vote == "up" else -1, "channel": channel, "comment": comment, "at": _now()}
        with self.engine.begin() as conn:
            if conn.execute(update(feedback).where(*mine).values(**values)).rowcount:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(insert(feedback).values(entry_id=entry_id, principal_id=principal_id, **values))
            except IntegrityError:  # another process recorded this principal's first vote meanwhile
                conn.execute(update(feedback).where(*mine).values(**values))
                return True
        return False

    def votes(self, entry_id: int) -> list[FeedbackVote]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(feedback).where(feedback.c.entry_id == entry_id).order_by(feedback.c.id)).mappings()
            return [FeedbackVote(entry_id=r["entry_id"], principal_id=r["principal_id"],
                                 vote="up" if r["vote"] > 0 else "down", comment=r["comment"], channel=r["channel"],
                                 at=_aware(r["at"])) for r in rows]

    # -- gaps ------------------------------------------------------------------------------------
    def open_gap(self, entry_id: int, entry: AuditEntry, reason: GapReason) -> Gap:
        key = question_key(entry.question, entry.kbs, entry.departments)
        with self.engine.begin() as conn:
            row = conn.execute(select(gaps).where(gaps.c.entry_id == entry_id)).mappings().first()
            if row is not None:  # this very answer opened one already (refused, then voted down)
                return _gap(row)
            row = conn.execute(
                select(gaps).where(gaps.c.question_key == key, gaps.c.status == "open").order_by(gaps.c.id).limit(1)
            ).mappings().first()
            if row is not None:
                conn.execute(update(gaps).where(gaps.c.id == row["id"]).values(asked=gaps.c.asked + 1))
                return _gap({**row, "asked": row["asked"] + 1})
            values = {
                "entry_id": entry_id, "question": entry.question, "answer": entry.answer,
                "kbs": _json(sorted(entry.kbs)), "departments": _json(sorted(entry.departments)), "reason": reason,
                "status": "open", "created_at": _now(), "question_key": key, "asked": 1,
            }
            try:
                with conn.begin_nested():
                    gap_id = conn.execute(insert(gaps).values(**values)).inserted_primary_key[0]
            except IntegrityError:  # the same answer, from another process, a moment earlier
                return _gap(conn.execute(select(gaps).where(gaps.c.entry_id == entry_id)).mappings().one())
        return _gap({**values, "id": gap_id, "resolved_at": None, "resolved_by": None, "curated_doc": None})

    def gap(self, gap_id: int) -> Gap | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(gaps).where(gaps.c.id == gap_id)).mappings().first()
        return _gap(row) if row else None

    def gaps(self, query: GapQuery) -> GapPage:
        conditions = []
        if query.status is not None:
            conditions.append(gaps.c.status == query.status)
        if query.reason is not None:
            conditions.append(gaps.c.reason == query.reason)
        if query.readable_kbs is not None:
            left = gaps.c.kbs
            for kb in query.readable_kbs:
                left = func.replace(left, json.dumps(kb), "")
            conditions += [gaps.c.kbs != "[]", ~left.like('%"%')]
        if query.departments is not None:
            mine = [gaps.c.departments.like(f"%{_escape_like(json.dumps(d, ensure_ascii=False))}%", escape="\\")
                    for d in query.departments]
            conditions.append(or_(gaps.c.departments == "[]", *mine))
        page = (select(gaps).where(*conditions).order_by(gaps.c.id.desc())
                .offset(max(0, query.offset)).limit(max(1, min(query.limit, 500))))
        with self.engine.connect() as conn:
            total = int(conn.execute(select(func.count()).select_from(gaps).where(*conditions)).scalar_one())
            rows = conn.execute(page).mappings().all()
        return GapPage([_gap(r) for r in rows], total)

    def resolve_gap(self, gap_id: int, status: Literal["curated", "dismissed"], *, by: str,
                    curated_doc: str | None = None) -> bool:
        with self.engine.begin() as conn:
            return conn.execute(
                update(gaps).where(gaps.c.id == gap_id, gaps.c.status == "open")
                .values(status=status, resolved_at=_now(), resolved_by=by, curated_doc=curated_doc)
            ).rowcount == 1

    # -- IM replies ------------------------------------------------------------------------------
    def remember_reply(self, reply: ImReply) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(im_replies).values(platform=reply.platform, message_id=reply.message_id,
                                                       entry_id=reply.entry_id, chat_id=reply.chat_id, at=_now()))
        except IntegrityError:  # remembered already (a retried send)
            pass

    def reply(self, platform: str, message_id: str) -> ImReply | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(im_replies).where(
                im_replies.c.platform == platform, im_replies.c.message_id == message_id)).mappings().first()
        return ImReply(row["platform"], row["message_id"], row["entry_id"], row["chat_id"]) if row else None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=timezone.utc)


def _json(value: list[str]) -> str:
    return json.dumps(value, ensure_ascii=False)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _gap(row) -> Gap:
    data = {k: row[k] for k in Gap.model_fields}
    data["kbs"], data["departments"] = json.loads(data["kbs"] or "[]"), json.loads(data["departments"] or "[]")
    data["created_at"], data["resolved_at"] = _aware(data["created_at"]), _aware(data["resolved_at"])
    return Gap(**data)
