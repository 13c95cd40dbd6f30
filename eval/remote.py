"""The eval harness against a running deployment, over its HTTP API: one server or a cluster's balancer.

``RemoteWorkspaces(url, api_key)`` is an ``eval.runner.OpenWorkspace``: :func:`eval.runner.run`
drives it exactly as it drives an embedded workspace. The corpus goes in through the documents
API, into a knowledge base made for the run (deleted afterwards), and the deployment's own workers
ingest it; every question goes to ``POST /v1/ask`` and the answer, trace included as the API
returns it, is scored as an embedded run's is.

- A corpus entry is uploaded as Markdown (``# title``, ``## title``, then its text), which the
  loader chunks as the embedded runner chunks the entry (same texts, same section), unless the
  text itself reads as Markdown (a table, a list); corpus files (a ``documents.json`` manifest)
  are uploaded as they are, with their metadata.
- What the deployment retrieves, reranks and refuses is its own settings' business: run the
  deployment with the settings the embedded run uses (``assistant.app.evaluation.eval_settings``:
  100 candidates per stage, no reranking budget) and traces 100 deep
  (``ASSISTANT_RETRIEVAL__TRACE_DEPTH=100``: rankings are scored as deep as the API's traces go)
  for the figures to compare. Only the mode it serves can be scored (``hybrid+rerank``). An empty
  question (CMRC has two) is not sent: the API refuses it; it is scored as a refusal.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from assistant.domain import Answer, DocumentMeta, Trace
from eval.dataset import Dataset
from eval.runner import EVAL_KB
from ingest.loaders.base import LoadedDocument

SERVED_MODE = ("hybrid", True)  # hybrid retrieval, reranked: what /v1/ask does
FORM_FIELDS = ("title", "version", "effective_date", "owner", "url")


class RemoteError(RuntimeError):
    """The deployment refused or failed a step of the run (the message says which, and its reply)."""


class RemoteWorkspace:
    """One run's knowledge base on the deployment; its catalog, ingestor and pipeline in one."""

    def __init__(self, http: httpx.Client, *, job_timeout_s: float = 600.0):
        self.http = http
        self.kb = f"eval_{uuid.uuid4().hex[:10]}"
        self.job_timeout_s = job_timeout_s
        self.trace_depth = 20  # set by the runner; the API's traces are as deep as the server makes them
        self._created = False

    # -- the catalog the runner looks at

    @property
    def catalog(self) -> RemoteWorkspace:
        return self

    def create_kb(self, name: str, description: str = "") -> None:
        self._check(self.http.post("/v1/kbs", json={"name": self._kb(name), "description": description}),
                    f"creating knowledge base {self.kb}")
        self._created = True

    def count_chunks(self, kb_ids: Sequence[str] | None = None) -> int:
        """Asked by the runner before it ingests: the run's knowledge base is new, so nothing yet;
        after, the documents in it (the API counts documents, not chunks)."""
        if not self._created:
            return 0
        kbs = self._check(self.http.get("/v1/kbs"), "listing knowledge bases").json()
        return sum(int(kb.get("documents", 0)) for kb in kbs if kb["name"] == self.kb)

    # -- ingestion: through the documents API, by the deployment's workers

    def ingestor(self, *, with_vectors: bool = True) -> RemoteWorkspace:
        return self

    def ingest_batch(self, items: Sequence[tuple[LoadedDocument, DocumentMeta, str]], kb: str) -> None:
        jobs = []
        for loaded, meta, doc_id in items:
            jobs.append(self._upload(kb, f"{_file_stem(doc_id)}.md", _markdown(loaded).encode("utf-8"),
                                     meta.model_copy(update={"id": doc_id})))
        self._wait(jobs)

    def ingest_file(self, path: Path, kb: str, meta: DocumentMeta) -> Any:
        self._wait([self._upload(kb, path.name, path.read_bytes(), meta)])
        return _Ingested()

    def _upload(self, kb: str, name: str, content: bytes, meta: DocumentMeta) -> str:
        form = {"doc_id": meta.id} if meta.id else {}
        form.update({f: getattr(meta, f) for f in FORM_FIELDS if getattr(meta, f)})
        if meta.tags:
            form["tags"] = ",".join(meta.tags)
        response = self._check(self.http.post(f"/v1/kbs/{self._kb(kb)}/documents", files={"files": (name, content)},
                                              data=form), f"uploading {name}")
        return response.json()["job_id"]

    def _wait(self, job_ids: Sequence[str]) -> None:
        deadline = time.monotonic() + self.job_timeout_s
        for job_id in job_ids:
            while True:
                job = self._check(self.http.get(f"/v1/jobs/{job_id}"), f"reading job {job_id}").json()
                if job["status"] == "done":
                    failed = [f for f in job.get("files", []) if f.get("status") == "failed"]
                    if failed:
                        raise RemoteError(f"job {job_id}: {failed[0].get('name')}: {failed[0].get('error')}")
                    break
                if job["status"] == "failed":
                    raise RemoteError(f"job {job_id} failed: {job.get('error') or job}")
                if time.monotonic() > deadline:
                    raise RemoteError(f"job {job_id} still {job['status']} after {self.job_timeout_s:.0f} s: "
                                      "are the deployment's workers running?")
                time.sleep(0.2)

    # -- asking

    def pipeline(self, mode: str = "hybrid", *, rerank: bool = True) -> RemoteWorkspace:
        if (mode, rerank) != SERVED_MODE:
            raise RemoteError(f"a deployment answers in one mode, hybrid+rerank; {mode}{'+rerank' if rerank else ''} "
                              "can only be run embedded")
        return self

    def ask(self, question: str, *, kb_ids: Sequence[str] | None = None, conversation_id: str | None = None) -> Answer:
        if not question.strip():  # the API refuses to take one (422): scored as a refusal with no ranking
            return Answer(question=question, answer="", refused=True,
                          trace=Trace(question=question, notes=["empty question: the API does not take it"]))
        body: dict[str, Any] = {"question": question, "kb": [self._kb(k) for k in (kb_ids or [EVAL_KB])]}
        if conversation_id:
            body["conversation_id"] = conversation_id.replace(":", "-")[:200]
        for attempt in range(5):
            response = self.http.post("/v1/ask", json=body)
            if response.status_code not in (429, 503):
                break
            time.sleep(float(response.headers.get("retry-after", "1")) if attempt < 4 else 0)
        return Answer.model_validate(self._check(response, f"asking {question[:40]!r}").json())

    # -- helpers

    def _kb(self, name: str) -> str:
        return self.kb if name == EVAL_KB else name

    @staticmethod
    def _check(response: httpx.Response, doing: str) -> httpx.Response:
        if response.status_code >= 400:
            raise RemoteError(f"{doing}: HTTP {response.status_code}: {response.text[:300]}")
        return response

    def delete(self) -> None:
        if self._created:
            self.http.delete(f"/v1/kbs/{self.kb}")


class _Ingested:
    status = "added"
    error = None


class RemoteWorkspaces:
    """Opens a :class:`RemoteWorkspace` per run on the deployment at ``url`` (an admin's or
    knowledge manager's API key): ``eval.runner.run(dataset, RemoteWorkspaces(url, key))``."""

    def __init__(self, url: str, api_key: str, *, timeout_s: float = 120.0, keep: bool = False):
        self.url = url.rstrip("/")
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.keep = keep  # leave the run's knowledge base on the deployment (to look at it afterwards)

    @contextmanager
    def __call__(self, data_dir: Path, rank_depth: int, dataset: Dataset) -> Iterator[RemoteWorkspace]:
        with httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.api_key}"},
                          timeout=self.timeout_s, trust_env=False) as http:
            workspace = RemoteWorkspace(http)
            try:
                yield workspace
            finally:
                if not self.keep:
                    workspace.delete()


def _markdown(loaded: LoadedDocument) -> str:
    """An eval corpus entry as a Markdown file the loader reads back into the same chunks."""
    parts = []
    for block in loaded.blocks:
        title = block.headings[-1] if block.headings else ""
        parts.append((f"# {title}\n\n## {title}\n\n" if title else "") + block.text)
    return "\n\n".join(parts)


def _file_stem(doc_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in doc_id)[:100] or "doc"
