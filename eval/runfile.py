"""The run file of ``assistant eval run --out``: what a run measured, question by question, and under what.

Format 2 (written since per-question rows were kept)::

    {"format": 2,
     "meta":    {"date", "dataset": {"name", "path", "queries", "documents", "categories", "limit"},
                 "modes", "git": {"commit", "dirty"}, "models": {"embedder", "reranker", "llm"},
                 "settings": {"retrieval": {...}, "answering": {...}, "models": {...}}, "erp"},
     "results": [<eval.metrics.aggregate dict of one mode>, ...],
     "rows":    {"<mode>": [<QuestionRow>, ...]}}

Each row is written on a line of its own, so a file reads (and greps, and diffs) one question per line.
Files written before format 2 hold only the results: one mode's dict, or a list of them. They load as a
``RunFile`` without meta and without rows, so ``eval compare`` and ``eval table`` read every run ever
written. Rows and meta are snapshots: they keep what the run saw as plain JSON (an evidence record, a
refusal reason) rather than the core's current types, so a file stays readable when those types grow.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

FORMAT = 2
ROW_DEPTH = 20  # ranked documents kept per question: enough for the top of the list and recall@20


class RunFileError(ValueError):
    """A file that is not a run file written by ``assistant eval run --out`` (names the file)."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        super().__init__(f"{path}: {problem}; expected the JSON written by `assistant eval run --out`")


class CitedSource(BaseModel):
    """One numbered source of an answer."""

    n: int
    doc_id: str
    section: str = ""
    page: int | None = None
    quote: str = ""


class ToolUse(BaseModel):
    """One tool call made while answering (an ERP lookup); ``error`` when it failed."""

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None


class QuestionRow(BaseModel):
    """What one question got in one mode, with the judgements the metrics made of it.

    ``answer`` is the text the asker saw (a refusal's text too); ``contains`` is None when the
    question has no gold answer or cannot be answered; ``retrieved`` holds the top ``ROW_DEPTH``
    documents, deduplicated, best first.
    """

    id: str
    text: str
    category: str | None = None
    conversation: list[str] = Field(default_factory=list)
    is_impossible: bool = False
    gold_answers: list[str] = Field(default_factory=list)
    relevant: list[str] = Field(default_factory=list)
    retrieved: list[str] = Field(default_factory=list)
    rewritten: str | None = None
    answer: str = ""
    refused: bool = False
    refusal: str | None = None  # answer.trace.refusal: why it refused
    evidence: dict[str, Any] | None = None  # answer.trace.evidence: what the refusal decision read
    cited: list[str] = Field(default_factory=list)
    citations: list[CitedSource] = Field(default_factory=list)
    tool_calls: list[ToolUse] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict)  # answer.trace.timings_ms, per stage
    latency_ms: float = 0.0
    contains: bool | None = None
    ndcg_at_10: float | None = None

    @property
    def top_doc(self) -> str | None:
        return self.retrieved[0] if self.retrieved else None


class GitState(BaseModel):
    commit: str
    dirty: bool  # tracked files differ from the commit: the run measured code that is not in it


class DatasetInfo(BaseModel):
    name: str
    path: str = ""
    queries: int = 0
    documents: int = 0
    categories: dict[str, int] = Field(default_factory=dict)
    limit: int | None = None


class ModelNames(BaseModel):
    embedder: str = ""
    reranker: str = ""
    llm: list[str] = Field(default_factory=list)  # configured backends' model names; empty: extractive


class RunMeta(BaseModel):
    """Under what a run was made. ``settings`` holds the groups that change results, as plain JSON
    without secrets; ``erp`` says which order system the tool stage talked to."""

    date: str
    dataset: DatasetInfo
    modes: list[str] = Field(default_factory=list)
    git: GitState | None = None
    models: ModelNames = Field(default_factory=ModelNames)
    settings: dict[str, Any] = Field(default_factory=dict)
    erp: str = ""


class RunFile(BaseModel):
    """One eval run: per-mode results, per-mode question rows, and the run's metadata."""

    format: int = FORMAT
    meta: RunMeta | None = None
    results: list[dict[str, Any]]
    rows: dict[str, list[QuestionRow]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _older_formats(cls, data: Any) -> Any:
        if isinstance(data, list):  # format 1, --mode all: the per-mode results
            return {"format": 1, "results": data}
        if isinstance(data, dict) and "results" not in data and "mode" in data:  # format 1, one mode
            return {"format": 1, "results": [data]}
        return data

    @property
    def summary(self) -> dict[str, Any] | list[dict[str, Any]]:
        """What ``eval.compare`` reads: one mode's result alone (so two single-mode runs compare
        directly, even across modes), else the list."""
        return self.results[0] if len(self.results) == 1 else self.results

    def dumps(self) -> str:
        """The file's text: indented JSON, except that each question row takes one line."""
        head = self.model_dump(mode="json", exclude={"rows"})
        text = json.dumps(head, ensure_ascii=False, indent=2)
        if not self.rows:
            return text + "\n"
        modes = []
        for mode, rows in self.rows.items():
            lines = ",\n".join("      " + row.model_dump_json() for row in rows)
            modes.append(f"    {json.dumps(mode, ensure_ascii=False)}: [\n{lines}\n    ]")
        return text[: text.rindex("}")].rstrip() + ',\n  "rows": {\n' + ",\n".join(modes) + "\n  }\n}\n"

    def write(self, path: Path | str) -> Path:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(self.dumps(), encoding="utf-8")
        return out


def load_run(path: Path | str) -> RunFile:
    """Read a run file of any format; raises :class:`RunFileError` naming the file otherwise."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFileError(path, "file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFileError(path, f"not JSON ({exc})") from None
    try:
        run = RunFile.model_validate(data)
    except ValidationError as exc:
        raise RunFileError(path, f"not a run file ({exc.error_count()} problem(s), first: {exc.errors()[0]['msg']})") from None
    if not run.results or not all(isinstance(r.get("mode"), str) for r in run.results):
        raise RunFileError(path, "no per-mode results")
    return run


def git_state(repo: Path) -> GitState | None:
    """The commit checked out in ``repo`` and whether tracked files differ from it; None outside git.

    Read-only: ``--no-optional-locks`` keeps ``git status`` from rewriting the index.
    """

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "--no-optional-locks", "-C", str(repo), *args],
            capture_output=True, text=True, timeout=30, check=True,
        )
        return done.stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return GitState(commit=commit, dirty=dirty)
