"""The question-answering pipeline: rewrite, route, tools, retrieve, fuse, rerank, answer, cite - top to bottom."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence

from assistant.answer.base import Answerer
from assistant.answer.refusal import nearest_topics, refusal_text
from assistant.domain import Answer, AnswerGuidance, Hit, RouteContext, Trace, Turn
from assistant.memory.conversation import ConversationMemory
from assistant.retrieve.base import stage_view
from assistant.retrieve.hybrid import HybridRetriever
from assistant.retrieve.rerank import Reranker
from assistant.rules import Route, RuleBook, route_for
from assistant.storage.interfaces import Catalog
from assistant.text.spelling import HomophoneCorrector
from assistant.text.normalize import detect_language
from assistant.timing import elapsed_ms
from assistant.tools.base import Caller
from assistant.tools.stage import ToolsOutcome, ToolStage, knowledge_query


class Pipeline:
    def __init__(
        self,
        catalog: Catalog,
        retriever: HybridRetriever,
        reranker: Reranker,
        answerer: Answerer,
        *,
        tools: ToolStage | None = None,
        memory: ConversationMemory | None = None,
        spelling: HomophoneCorrector | None = None,
        rules: RuleBook | None = None,
        top_k: int = 5,
        rerank_depth: int = 20,
        rerank_budget_ms: float | None = None,
        trace_depth: int = 20,
    ):
        self.catalog = catalog
        self.retriever = retriever
        self.reranker = reranker
        self.answerer = answerer
        self.tools = tools
        self.memory = memory
        self.spelling = spelling
        self.rules = rules
        self.top_k = top_k
        self.rerank_depth = rerank_depth
        self.rerank_budget_ms = rerank_budget_ms  # None: judge every passage (evaluation runs)
        self.trace_depth = trace_depth

    def ask(
        self,
        question: str,
        *,
        kb_ids: Sequence[str] | None = None,
        caller: Caller | None = None,
        history: Sequence[Turn] = (),
        conversation_id: str | None = None,
        context: RouteContext | None = None,
    ) -> Answer:
        """Answer one question; `caller` (default: staff via API/CLI) decides what tool results may show.

        With a ``conversation_id`` the question is read in its conversation: a follow-up is rewritten
        into a standalone question before retrieval, and the exchange is remembered. With a ``context``
        (who asks from where: every front door gives one) the routing rules apply; without, none does.
        """
        started = time.perf_counter()
        question = question.strip()
        searchable = self._searchable(kb_ids)
        trace = Trace(question=question, language=detect_language(question), kb_ids=searchable)

        standalone, history = self._rewrite(question, conversation_id, history, trace)
        standalone = self._correct(standalone, trace)
        route = self._route(standalone, searchable, context, trace)
        kbs = route.kbs
        tools = self._use_tools(standalone, caller or Caller(), history, trace, route.tools)
        if tools.proof_failed:  # digits that prove nothing: say so, and nothing else
            return self._notice_only(question, standalone, tools.notice(question) or "", trace, conversation_id, started)
        query = knowledge_query(standalone, tools.results)  # the rule behind a tool result, else the question
        if query != question:
            trace.rewritten = query

        depth = max(self.rerank_depth, self.top_k, self.trace_depth)
        retrieval = self.retriever.retrieve(query, kb_ids=kbs, k=depth, trace_depth=self.trace_depth)
        trace.stages.update(retrieval.stages)
        trace.timings_ms.update(retrieval.timings_ms)

        t0 = time.perf_counter()
        if self.reranker.can_judge(query):
            judged = retrieval.hits[: self.rerank_depth]
            deadline = t0 + self.rerank_budget_ms / 1000 if self.rerank_budget_ms else None
            reranked = self.reranker.rerank(query, judged, len(judged), deadline=deadline)
            scored = sum("rerank" in h.scores for h in reranked)
            if deadline is not None and scored < len(judged):
                trace.notes.append(f"rerank: {scored} of {len(judged)} passages judged within "
                                   f"{self.rerank_budget_ms:.0f} ms; the rest keep the fused order")
            trace.stages["reranked"] = stage_view(reranked, "rerank", self.trace_depth)
            hits = reranked[: self.top_k]
        else:
            hits = retrieval.hits[: self.top_k]
            trace.notes.append(f"rerank skipped: no reranker judges {trace.language!r} queries")
        trace.timings_ms["rerank"] = elapsed_ms(t0)

        t0 = time.perf_counter()
        answer = self._answer(standalone, hits, tools, history, route.guidance)
        trace.timings_ms["answer"] = elapsed_ms(t0)
        trace.notes.extend(answer.trace.notes)
        trace.evidence, trace.faq_match, trace.refusal = (
            answer.trace.evidence, answer.trace.faq_match, answer.trace.refusal,
        )
        if answer.refused:  # say what was searched and what came closest
            answer = answer.model_copy(update={"answer": refusal_text(trace.language, self._labels(kbs), nearest_topics(hits))})
        trace.timings_ms["total"] = elapsed_ms(started)
        notice = tools.notice(question)  # a lookup that was refused or failed is said first, not hidden
        text = f"{notice}\n{answer.answer}" if notice else answer.answer
        if self.memory is not None and conversation_id:
            self.memory.remember(conversation_id, question, standalone, text)
        return answer.model_copy(update={"question": question, "answer": text, "trace": trace})

    def _notice_only(self, question: str, standalone: str, notice: str, trace: Trace, conversation_id: str | None,
                     started: float) -> Answer:
        trace.timings_ms["total"] = elapsed_ms(started)
        if self.memory is not None and conversation_id:
            self.memory.remember(conversation_id, question, standalone, notice)
        return Answer(question=question, answer=notice, refused=False, citations=[], trace=trace)

    def _rewrite(
        self, question: str, conversation_id: str | None, history: Sequence[Turn], trace: Trace
    ) -> tuple[str, Sequence[Turn]]:
        """The standalone form of a follow-up, and the conversation the answerer should see: from the
        conversation's stored turns, or from the turns the caller sent (then nothing is stored)."""
        if self.memory is None:
            return question, history
        if not conversation_id:
            if not history:
                return question, history
            rewrite = self.memory.rewriter.rewrite(question, list(history))
            if rewrite.changed:
                trace.notes.append(f"rewrite: {rewrite.reason}")
            return rewrite.query, history
        t0 = time.perf_counter()
        context = self.memory.context(conversation_id, question)
        if context.rewrite and context.rewrite.changed:
            trace.notes.append(f"rewrite: {context.rewrite.reason}")
        if context.recalled:
            trace.notes.append(f"recalled {len(context.recalled)} earlier turn(s) of this conversation")
        trace.timings_ms["rewrite"] = elapsed_ms(t0)
        return (context.rewrite.query if context.rewrite else question), [*history, *context.recalled, *context.history]

    def _correct(self, question: str, trace: Trace) -> str:
        """Homophone typos (发漂 -> 发票) corrected toward the knowledge base's own words."""
        if self.spelling is None:
            return question
        t0 = time.perf_counter()
        result = self.spelling.run(question)
        trace.timings_ms["spelling"] = elapsed_ms(t0)
        if result.changed:
            fixes = ", ".join(f"{c.original} -> {c.corrected}" for c in result.corrections)
            trace.notes.append(f"spelling: {fixes}")
        return result.text

    def _use_tools(self, question: str, caller: Caller, history: Sequence[Turn], trace: Trace,
                   allowed: Sequence[str] | None) -> ToolsOutcome:
        """Run the tools the question needs (of those a routing rule allows); every call goes into the trace."""
        if self.tools is None:
            return ToolsOutcome()
        t0 = time.perf_counter()
        if allowed is None:
            outcome = self.tools.run(question, caller, history)
        else:
            outcome = self.tools.run(question, caller, history, allowed=allowed)
        trace.tool_calls.extend(outcome.calls)
        trace.notes.extend(outcome.notes)
        trace.timings_ms["tools"] = elapsed_ms(t0)
        return outcome

    def _labels(self, kbs: Sequence[str]) -> list[str]:
        """How the searched knowledge bases are named to people: the start of their description."""
        described = {kb.name: kb.description for kb in self.catalog.list_kbs()}
        return [re.split(r"[：:，,（(]", described.get(kb) or kb)[0].strip() or kb for kb in kbs]

    def _answer(self, question: str, hits: Sequence[Hit], tools: ToolsOutcome, history: Sequence[Turn],
                guidance: AnswerGuidance | None) -> Answer:
        if guidance is None:
            return self.answerer.answer(question, hits, tools.results, history)
        return self.answerer.answer(question, hits, tools.results, history, guidance=guidance)

    def _searchable(self, kb_ids: Sequence[str] | None) -> list[str]:
        """The KBs the caller lets this question search (each must exist; none at all means nothing is
        searched), or, when the caller does not say, all of them."""
        if kb_ids is None:
            return [kb.name for kb in self.catalog.list_kbs()]
        for kb in kb_ids:
            self.catalog.require_kb(kb)
        return list(dict.fromkeys(kb_ids))

    def _route(self, question: str, searchable: list[str], context: RouteContext | None, trace: Trace) -> Route:
        """The first routing rule that matches the (standalone) question and its asker narrows the KBs
        searched, never widens them, and says which tools may run and how to answer."""
        if self.rules is None or context is None:
            return route_for(None, searchable)
        t0 = time.perf_counter()
        rule = self.rules.first(question, context, language=trace.language)
        route = route_for(rule, searchable)
        trace.timings_ms["route"] = elapsed_ms(t0)
        if rule is not None:
            trace.rule, trace.kb_ids = rule.ref(), route.kbs
            trace.notes.append(f"routing rule {rule.ref().label()} applies")
            if route.dropped:  # counted, not named: a KB the asker may not read does not exist for them
                trace.notes.append(f"routing rule {rule.ref().label()}: {len(route.dropped)} of its knowledge bases "
                                   "left out (not searchable by this asker)")
        return route

