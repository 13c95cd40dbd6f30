"""Question by question, what changed from run A to run B (``assistant eval compare --by-question``).

A question changed when it went from answered to refused or back, when its answer gained or lost a
gold answer, or when the document ranked first is another one. The rows of two run files are matched
by mode (two single-mode runs are matched with each other, like :func:`eval.compare.compare`) and
then by question id. Pure functions; :func:`render` gives plain text for a terminal or a pipe.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from eval.dataset import UNCATEGORISED
from eval.runfile import QuestionRow, RunFile

NOW_REFUSED = "answered -> refused"
NOW_ANSWERED = "refused -> answered"
LOST_GOLD = "lost the gold answer"
FOUND_GOLD = "found the gold answer"
TOP_DOC = "top document changed"
KINDS = (NOW_REFUSED, NOW_ANSWERED, LOST_GOLD, FOUND_GOLD, TOP_DOC)

_ANSWER_SHOWN = 160  # characters of each answer shown under a changed question


@dataclass(frozen=True)
class QuestionChange:
    """One question whose outcome differs between the runs; ``kinds`` are from :data:`KINDS`."""

    kinds: tuple[str, ...]
    a: QuestionRow
    b: QuestionRow

    @property
    def category(self) -> str:
        return self.b.category or self.a.category or UNCATEGORISED


@dataclass
class ModeChanges:
    """The changed questions of one mode, in A's order, and the questions only one run asked."""

    mode: str
    compared: int
    changes: list[QuestionChange] = field(default_factory=list)
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many questions changed in each way (a question may change in several)."""
        seen = Counter(kind for change in self.changes for kind in change.kinds)
        return {kind: seen[kind] for kind in KINDS}

    def by_category(self) -> dict[str, int]:
        """Changed questions per category (empty when no question has a category)."""
        if not any(c.a.category or c.b.category for c in self.changes):
            return {}
        return dict(Counter(c.category for c in self.changes).most_common())


def changes_of(a: QuestionRow, b: QuestionRow) -> tuple[str, ...]:
    kinds = []
    if a.refused != b.refused:
        kinds.append(NOW_REFUSED if b.refused else NOW_ANSWERED)
    if a.contains is not None and b.contains is not None and a.contains != b.contains:
        kinds.append(FOUND_GOLD if b.contains else LOST_GOLD)
    if a.top_doc != b.top_doc:
        kinds.append(TOP_DOC)
    return tuple(kinds)


def compare_rows(mode: str, a: list[QuestionRow], b: list[QuestionRow]) -> ModeChanges:
    in_b = {row.id: row for row in b}
    in_a = {row.id for row in a}
    result = ModeChanges(mode, compared=sum(1 for row in a if row.id in in_b))
    result.only_in_a = [row.id for row in a if row.id not in in_b]
    result.only_in_b = [row.id for row in b if row.id not in in_a]
    for row in a:
        other = in_b.get(row.id)
        if other is not None and (kinds := changes_of(row, other)):
            result.changes.append(QuestionChange(kinds, row, other))
    return result


def question_changes(a: RunFile, b: RunFile) -> list[ModeChanges]:
    """The changed questions of every mode both runs hold rows for (A's modes first).

    Raises ``ValueError`` when a run has no rows (files written before rows were kept).
    """
    for name, run in (("A", a), ("B", b)):
        if not run.rows:
            raise ValueError(f"run {name} has no per-question rows")
    if len(a.rows) == 1 and len(b.rows) == 1:
        (mode_a, rows_a), (mode_b, rows_b) = next(iter(a.rows.items())), next(iter(b.rows.items()))
        label = mode_a if mode_a == mode_b else f"{mode_a} -> {mode_b}"
        return [compare_rows(label, rows_a, rows_b)]
    return [compare_rows(mode, rows, b.rows[mode]) for mode, rows in a.rows.items() if mode in b.rows]


def _doc(doc: str | None, row: QuestionRow) -> str:
    if doc is None:
        return "(nothing)"
    return f"{doc} (relevant)" if doc in row.relevant else doc


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _ANSWER_SHOWN else text[: _ANSWER_SHOWN - 1] + "…"


def _details(change: QuestionChange) -> list[str]:
    a, b = change.a, change.b
    lines = []
    for kind in change.kinds:
        if kind == NOW_REFUSED:
            lines.append(f"{kind} ({b.refusal or 'no reason recorded'})")
        elif kind == TOP_DOC:
            lines.append(f"top document: {_doc(a.top_doc, a)} -> {_doc(b.top_doc, b)}")
        else:
            lines.append(kind)
    if any(k != TOP_DOC for k in change.kinds):
        if b.gold_answers:
            lines.append("gold: " + " | ".join(b.gold_answers))
        lines.append(f"A: {_short(a.answer) or '(empty)'}")
        lines.append(f"B: {_short(b.answer) or '(empty)'}")
    return lines


def render(modes: list[ModeChanges]) -> str:
    """Counts per mode, then each changed question with what changed, as plain text (nothing cut to a
    terminal's width; answers are shortened to their first 160 characters, the run files hold them whole)."""
    if not modes:
        return "no mode has per-question rows in both runs"
    out: list[str] = []
    for m in modes:
        changed = len(m.changes)
        questions = "question" if m.compared == 1 else "questions"
        out.append(f"{m.mode}: {m.compared} {questions} in both runs, {changed or 'none'} changed")
        if m.only_in_a or m.only_in_b:
            out.append(f"  only in A: {len(m.only_in_a)}, only in B: {len(m.only_in_b)} (not compared)")
        if changed:
            counts = m.counts()
            label = max(len(k) for k in KINDS)
            out.extend(f"  {kind:<{label}}  {n:>4}" for kind, n in counts.items())
            by_category = m.by_category()
            if by_category:
                out.append("  by category: " + ", ".join(f"{c} {n}" for c, n in by_category.items()))
            out.append("")
            for change in m.changes:
                category = f" [{change.category}]" if change.a.category or change.b.category else ""
                out.append(f"  {change.a.id}{category}  {change.b.text}")
                out.extend(f"      {line}" for line in _details(change))
        out.append("")
    return "\n".join(out).rstrip() + "\n"
