"""Specification tests for eval.report."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from eval.dataset import CorpusDoc, Dataset, Query
from eval.metrics import QueryRecord, aggregate
from eval.report import worst_queries, write_report

EVIL = '<script>alert("x")</script>'


def _dataset() -> Dataset:
    queries = [Query(f"q{i}", f"question {i}", [f"answer {i}"]) for i in range(30)]
    queries.append(Query("qevil", f"what is {EVIL}?", [EVIL]))
    queries.append(Query("qimp", "unanswerable", [], is_impossible=True))
    return Dataset(
        name="tiny",
        corpus=[CorpusDoc(f"d{i}", "", "text") for i in range(32)],
        queries=queries,
        qrels={q.id: {f"d{i}": 1} for i, q in enumerate(queries) if not q.is_impossible},
    )


def _records(ds: Dataset, good: bool) -> list[QueryRecord]:
    records = []
    for i, q in enumerate(ds.queries):
        right = good and i % 3 != 0
        records.append(
            QueryRecord(
                query_id=q.id,
                ranked_doc_ids=[f"d{i}", "d99"] if right else ["d99", f"d{i}"],
                answer_text=(q.answers[0] if q.answers else "") if right else f"wrong {EVIL}",
                refused=q.is_impossible and good,
                cited_doc_ids=[f"d{i}"],
                latency_ms=100.0 + i,
                stage_ms={"retrieve": 10.0 + i, "generate": 80.0},
                trace={"prompt": f"context {EVIL}"},
            )
        )
    return records


@pytest.fixture
def report(tmp_path: Path) -> tuple[str, Path]:
    ds = _dataset()
    by_mode = {"bm25": _records(ds, False), "hybrid": _records(ds, True)}
    results = [aggregate(recs, ds, mode) for mode, recs in by_mode.items()]
    out = write_report(results, by_mode, ds, tmp_path / "sub" / "report.html")
    return out.read_text(encoding="utf-8"), out


def test_report_is_written_as_one_html_file(report: tuple[str, Path]) -> None:
    html, path = report
    assert path.is_file()
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")


def test_report_contains_a_metrics_table_per_mode(report: tuple[str, Path]) -> None:
    html, _ = report
    assert "<table>" in html and "retrieval.ndcg@10" in html
    assert "Mode: bm25" in html and "Mode: hybrid" in html


def test_report_embeds_valid_png_charts_without_external_assets(report: tuple[str, Path]) -> None:
    html, _ = report
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 2  # main metrics + latency
    assert all(base64.b64decode(img).startswith(b"\x89PNG") for img in images)
    assert "http://" not in html and "https://" not in html and "<link" not in html


def test_report_escapes_query_answer_and_trace_text(report: tuple[str, Path]) -> None:
    html, _ = report
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_report_lists_at_most_twenty_worst_queries_per_mode(report: tuple[str, Path]) -> None:
    html, _ = report
    assert html.count("<details>") == 2 * 20


def test_worst_queries_put_wrong_answers_and_missed_docs_first() -> None:
    ds = _dataset()
    worst = worst_queries(_records(ds, True), ds, n=5)
    ids = [r.query_id for _, r in worst]
    assert "q0" in ids and "q1" not in ids  # q0: i % 3 == 0 -> wrong, q1 right
    qualities = [q for q, _ in worst]
    assert qualities == sorted(qualities)


def _latency_stages_shown(html: str) -> list[str]:
    (alt,) = re.findall(r'<img alt="Latency[^:"]*: ([^"]*)"', html)
    return alt.split(", ")


def test_latency_chart_lists_each_stage_once(tmp_path: Path) -> None:
    ds = _dataset()
    # As the pipeline times them: its own "total" beside the stages, and modes timing different stages.
    bm25 = [QueryRecord(q.id, latency_ms=5.0, stage_ms={"bm25": 1.0, "answer": 2.0, "total": 4.9}) for q in ds.queries]
    hybrid = [QueryRecord(q.id, latency_ms=9.0, stage_ms={"bm25": 1.0, "vector": 4.0, "answer": 2.0, "total": 8.9})
              for q in ds.queries]
    by_mode = {"bm25": bm25, "hybrid": hybrid}
    results = [aggregate(recs, ds, mode) for mode, recs in by_mode.items()]
    html = write_report(results, by_mode, ds, tmp_path / "r.html").read_text(encoding="utf-8")
    stages = _latency_stages_shown(html)
    assert stages == ["total", "bm25", "answer", "vector"]
    assert len(stages) == len(set(stages))


def test_report_shows_the_figures_of_each_category(tmp_path: Path) -> None:
    ds = _dataset()
    ds.queries = [Query(q.id, q.text, q.answers, q.is_impossible, category="table_lookup" if i < 10 else "cross_lingual")
                  for i, q in enumerate(ds.queries)]
    records = _records(ds, True)
    html = write_report([aggregate(records, ds, "hybrid")], {"hybrid": records}, ds, tmp_path / "r.html").read_text(
        encoding="utf-8")
    section = html[html.index("<h2>By category</h2>"):]
    section = section[: section.index("</table>")]
    assert "<td>table_lookup</td>" in section and "<td>cross_lingual</td>" in section
    assert "<th>false ref</th>" in section and "<th>nDCG@10</th>" in section
    # table_lookup holds q0..q9: one in three (q0, q3, q6, q9) answered wrongly -> contains 0.600
    row = section[section.index("<td>table_lookup</td>"):].split("</tr>")[0]
    assert '<td class="num">10</td>' in row and '<td class="num">0.600</td>' in row
