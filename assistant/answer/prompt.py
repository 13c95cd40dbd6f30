"""The prompts: answer from numbered sources only and cite them; decide which tools to call.

Chinese first (the customers and the SOPs are Chinese), with the English rules alongside so the
same prompt serves English questions.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.answer.sources import Source
from assistant.domain import AnswerGuidance, Turn

NO_ANSWER = "NO_ANSWER"

ANSWER_SYSTEM = f"""你是电商客服知识助手。只能根据用户消息中编号的【资料】回答，不使用资料以外的知识，不猜测，不编造。
规则：
1. 每句话末尾用 [n] 标出依据的资料编号，n 只能是给出的编号；一句话有多个依据就写 [1][2]。
2. 来自“ERP 订单系统”的资料是刚查询到的订单实时信息，可以直接告诉用户；其他资料是公司规范和常见问题。
3. 资料不足以回答问题时，只回复 {NO_ANSWER}，不要解释。
4. 用用户提问的语言回答；简洁，最多 5 句；不要重复问题，不要输出资料编号以外的链接。
You answer customer-service questions ONLY from the numbered sources in the user message. End every
sentence with the [n] of the sources it rests on. If the sources do not answer the question, reply
exactly {NO_ANSWER}. Answer in the language of the question."""

TOOLS_SYSTEM = """你是电商客服助手的工具调度器。根据用户最新的问题判断是否需要调用工具查询实时数据（例如订单状态、物流、发票、退款）。
需要时调用合适的工具并填好参数（订单号必须出现在对话中，不要编造）；不需要时直接回复 NONE。
Decide whether the user's latest message needs a live lookup; call the tools with arguments taken
from the conversation (never invent an order number), or reply NONE."""


# How a routing rule's answer style is asked of a model (the extractive answer follows "brief" itself).
STYLE_RULES = {
    "brief": "回答尽量简短：一到两句话。Keep the answer to one or two sentences.",
    "steps": "按操作步骤作答：用 1. 2. 3. 编号，每步一句，每句照样标注 [n]。Answer as numbered steps, one sentence "
             "each, each with its [n].",
    "detailed": "回答要完整：写明条件、时限和例外，可以超过 5 句。Answer in full (conditions, time limits, "
                "exceptions); more than 5 sentences is fine.",
}


def system_prompt(guidance: AnswerGuidance | None) -> str:
    """The answering rules, then what a routing rule adds: its style, and its own instruction (which
    comes last and cannot lift the rules above it: sources only, cite them, say NO_ANSWER)."""
    parts = [ANSWER_SYSTEM]
    if guidance is not None and guidance.style:
        parts.append(STYLE_RULES[guidance.style])
    if guidance is not None and guidance.prompt:
        parts.append(f"附加要求（不改变以上规则）Additional instruction (the rules above still apply): {guidance.prompt}")
    return "\n".join(parts)


def recent_turns(history: Sequence[Turn], limit: int) -> list[Turn]:
    """The last ``limit`` turns that say something (a model sees no empty or system turns)."""
    turns = [t for t in history if t.role in ("user", "assistant") and t.text.strip()]
    return turns[-limit:] if limit > 0 else []


def render_sources(sources: Sequence[Source]) -> str:
    return "\n\n".join(f"[{s.n}] {s.heading}\n{s.text.strip()}" for s in sources)


def answer_messages(question: str, sources: Sequence[Source], history: Sequence[Turn],
                    guidance: AnswerGuidance | None = None) -> list[dict[str, str]]:
    """System rules, the recent conversation, then the sources and the question in one user message."""
    messages = [{"role": "system", "content": system_prompt(guidance)}]
    messages += [{"role": t.role, "content": t.text} for t in history]
    messages.append({"role": "user", "content": f"【资料 Sources】\n{render_sources(sources)}\n\n【问题 Question】\n{question}"})
    return messages


def tool_messages(question: str, history: Sequence[Turn]) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": TOOLS_SYSTEM}]
    messages += [{"role": t.role, "content": t.text} for t in history]
    messages.append({"role": "user", "content": question})
    return messages
