"""What the rest of the assistant may assume about storage: one small protocol per concern.

Every backend (the embedded default: SQLite, tantivy, embedded Chroma, a file lock; the scale-out
one: PostgreSQL, a shared keyword engine, a Chroma server, Redis) implements these and passes the
same contract tests (``tests/storage``). Retrieval, answering and ingestion see only these names.

The invariants they share:

- **The catalog decides what is live.** The keyword and vector indexes are candidate generators: they
  may hold chunks the catalog does not list (written before a switch, or not yet purged after one),
  never the reverse for long. Every hit is resolved through the catalog before anyone sees it.
- **A document changes in one step.** ``Catalog.replace_document`` switches a document to a new chunk
  set in one transaction; a reader resolving hits in one ``Catalog.resolve`` call sees the old set or
  the new one, never a mix. The indexes are written before the switch and purged after it.
- **Nothing is lost to a crash.** Chunks are recorded in the catalog's ledger before they are written
  to an index (``stage``) and when they stop being live (inside the switch), so leftovers of a dead
  process can be found and purged later by any process (``leftovers``) without a scan and without
  touching another process's work in flight.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import numpy as np

from assistant.domain import (
    ApiKey,
    AuditEntry,
    AuditQuery,
    Chunk,
    CustomerBinding,
    Department,
    Document,
    DocumentMeta,
    DocumentVersion,
    FeedbackVote,
    Gap,
    GapQuery,
    GapReason,
    ImRule,
    KnowledgeBase,
    Principal,
    Role,
    RoutingRule,
    RuleSource,
    RuleSpec,
    RuleVersion,
    Session,
    SessionQuery,
    Turn,
    User,
    Vote,
)

# ---------------------------------------------------------------------------------------- catalog
WHOLE_KB = "*"  # a ledger entry standing for every chunk of a deleted knowledge base


@dataclass(frozen=True)
class LiveChunk:
    """A chunk resolved through the catalog, with the document fields a citation needs."""

    chunk: Chunk
    title: str
    url: str | None
    version: str | None
    curated_by: str | None = None


@dataclass(frozen=True)
class Replacement:
    """What switching a document to a new chunk set changed, for the indexes to follow."""

    added: list[Chunk]
    removed_ids: list[str]


@dataclass(frozen=True)
class DocumentPage:
    """One page of a knowledge base's documents (with their live chunk counts) and how many match in all."""

    documents: list[tuple[Document, int]]
    total: int


@dataclass(frozen=True)
class ChunkPage:
    """One page of a document's live chunks in reading order, and how many it has in all."""

    chunks: list[Chunk]
    total: int


@dataclass(frozen=True)
class Leftover:
    """Index entries that are not live and belong to no writer any more: safe to purge.

    ``chunk_id`` is ``"*"`` for a whole knowledge base that was deleted.
    """

    kb: str
    chunk_id: str


class Catalog(Protocol):
    """Knowledge bases, documents and their live chunks: the source of truth for what is live.

    Contract:
    - KB names are validated (``InvalidName``); operations on a missing KB raise ``UnknownKnowledgeBase``.
    - ``replace_document`` is atomic: afterwards exactly ``new_chunks`` are the document's live chunks;
      chunk ids it already had keep their rows (their position and heading may be updated). The ids it
      no longer has are retired in the ledger in the same transaction.
    - ``resolve`` reads every id in one consistent read; ids that are not live are simply absent. With
      ``as_of`` a ``snapshot`` taken before the index search, it returns the chunks live at that clock,
      so a reader on any process sees one version of a document a switch replaced meanwhile, whole
      (its retired chunks are kept until ``drop_history``).
    - Document ids are unique across knowledge bases: a document of another KB raises ``AssistantError``.
    - A disabled document stays listed with its chunks (and in the indexes), but ``resolve`` never returns
      its chunks: no retrieval stage, citation or FAQ match can show it. Replacing it keeps it disabled.
    - History: every ``replace_document`` (added or replaced), ``set_disabled`` that changes the state and
      ``delete_document`` of a document that existed records one ``DocumentVersion`` in the same
      transaction, naming ``by`` (a principal id); ``versions`` lists them oldest first.
    - Ledger: ``stage`` records ids about to be written to the indexes (expiring after ``ttl_seconds``
      unless settled); ``settle`` forgets ledger entries once the indexes agree with the catalog;
      ``leftovers`` lists entries that are safe to purge: retired ones (older than ``grace_seconds``), and
      staged ones that expired without becoming live. A live chunk is never a leftover.
    """

    # knowledge bases
    def create_kb(self, name: str, description: str = "", department: str | None = None) -> bool:
        """Create a knowledge base (owned by ``department``, or open to all); False if it already existed."""
        ...

    def list_kbs(self) -> list[KnowledgeBase]:
        """Every knowledge base with its document count, owning department and reading departments."""
        ...

    def set_kb_access(self, name: str, department: str | None, readers: Sequence[str] = ()) -> None:
        """Set the owning department (None: open to every department) and the departments granted reading."""
        ...

    def kb_exists(self, name: str) -> bool: ...

    def require_kb(self, name: str) -> None: ...

    def delete_kb(self, name: str, *, by: str = "") -> list[str]:
        """Delete a KB with its documents; returns the chunk ids that were live. Retires the whole KB."""
        ...

    # documents
    def get_document(self, doc_id: str) -> Document | None: ...

    def list_documents(self, kb: str | None = None) -> list[tuple[Document, int]]:
        """Documents (of one KB, or all) with their live chunk counts, ordered by KB then id."""
        ...

    def page_documents(self, kb: str, *, search: str = "", offset: int = 0, limit: int = 50,
                       disabled: bool | None = None) -> DocumentPage:
        """One page of a KB's documents, most recently updated first (then by id, descending), and the number
        matching in all. ``search`` keeps documents whose id, title, owner, source file or tags hold it
        (case-insensitive; ``%`` and ``_`` are plain characters); ``disabled`` keeps only the disabled
        (True) or enabled (False) ones. Paged and counted by the database (10,000 documents stay fast)."""
        ...

    def chunk_counts(self) -> dict[str, int]:
        """Live chunks per knowledge base (KBs without documents are absent); one cheap read."""
        ...

    def replace_document(self, doc: Document, new_chunks: Sequence[Chunk], *, by: str = "") -> Replacement: ...

    def delete_document(self, doc_id: str, *, by: str = "") -> list[str]:
        """Remove a document; returns (and retires) the chunk ids that were live."""
        ...

    def set_disabled(self, doc_id: str, disabled: bool, *, by: str = "") -> Document | None:
        """Disable (never retrieved) or enable a document; returns it, None when there is no such document.
        Setting the state it already has changes nothing and records nothing."""
        ...

    def versions(self, doc_id: str) -> list[DocumentVersion]:
        """The document's history, oldest first (also after it was deleted)."""
        ...

    def page_chunks(self, doc_id: str, *, offset: int = 0, limit: int = 50) -> ChunkPage:
        """One page of a document's live chunks in reading order, and how many it has."""
        ...

    # chunks
    def snapshot(self) -> int:
        """The catalog clock now (advanced by every switch): what ``resolve(as_of=...)`` takes."""
        ...

    def resolve(self, chunk_ids: Iterable[str], *, as_of: int | None = None) -> dict[str, LiveChunk]: ...

    def drop_history(self, before: datetime) -> int:
        """Forget retired versions (kept for ``resolve(as_of=...)``) retired before ``before``."""
        ...

    def chunk_ids(self, doc_id: str) -> list[str]: ...

    def chunk_ids_of_kb(self, kb: str) -> list[str]: ...

    def chunks_of(self, doc_id: str) -> list[Chunk]:
        """A document's live chunks in reading order."""
        ...

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every live chunk (to rebuild an index), without loading them all at once."""
        ...

    def count_chunks(self, kb_ids: Sequence[str] | None = None) -> int: ...

    # domain vocabulary (the tokenizer follows it)
    def vocabulary_version(self) -> str:
        """Changes whenever a document's tags may have changed; one cheap read."""
        ...

    def vocabulary(self) -> set[str]:
        """Every tag of every document."""
        ...

    # ledger
    def stage(self, kb: str, chunk_ids: Sequence[str], *, ttl_seconds: float) -> None: ...

    def settle(self, kb: str, chunk_ids: Sequence[str]) -> None: ...

    def leftovers(self, *, now: datetime | None = None, limit: int = 10_000, grace_seconds: float = 0) -> list[Leftover]: ...


# ---------------------------------------------------------------------------------------- indexes
class KeywordIndex(Protocol):
    """BM25 over the tokenizer's terms, per chunk, filtered by knowledge base.

    Contract: ``apply`` adds and removes in one commit (all or nothing); adding an id that is present
    replaces it; removing an absent id is a no-op. ``search`` returns at most ``k`` (chunk id, score)
    pairs, best first, only from ``kb_ids`` (all KBs when None). Scores are comparable within a query.
    """

    def query_terms(self, text: str) -> list[str]: ...

    def apply(self, add: Sequence[Chunk] = (), remove_ids: Sequence[str] = ()) -> None: ...

    def delete_kb(self, kb: str) -> None: ...

    def search(self, terms: Sequence[str], kb_ids: Sequence[str] | None, k: int) -> list[tuple[str, float]]: ...

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """Inverse document frequency of each term (unknown terms get the largest value)."""
        ...

    def doc_freq(self, terms: Sequence[str]) -> dict[str, int]:
        """How many indexed chunks hold each term, as the index analysed it (words, and ``#`` + character
        pairs when it holds them); 0 for a term it never saw. One consistent read for all the terms; an
        engine may still count chunks removed since it last compacted."""
        ...

    def count(self) -> int: ...

    def ids_by_kb(self) -> dict[str, set[str]]: ...

    def needs_rebuild(self) -> bool:
        """True when the index was built with other analysis settings (then ``rebuild`` from the catalog)."""
        ...

    def rebuild(self, chunks: Iterable[Chunk]) -> int: ...


class VectorIndex(Protocol):
    """Nearest neighbours by cosine similarity, one collection per knowledge base.

    Contract: vectors are L2-normalised float32 supplied by the caller (the index never embeds text);
    ``add`` upserts; ``search`` returns at most ``k`` (chunk id, cosine similarity) pairs over the given
    KBs, best first; a KB with no collection contributes nothing; ``delete_kb`` drops the collection.
    """

    def add(self, kb: str, ids: Sequence[str], vectors: np.ndarray, doc_ids: Sequence[str]) -> None: ...

    def delete(self, kb: str, ids: Sequence[str]) -> None: ...

    def delete_kb(self, kb: str) -> None: ...

    def search(self, vector: np.ndarray, kb_ids: Sequence[str], k: int) -> list[tuple[str, float]]: ...

    def kbs(self) -> list[str]: ...

    def ids(self, kb: str) -> list[str]: ...

    def count(self, kb: str) -> int: ...


# ---------------------------------------------------------------------------------------- jobs
JobStatus = Literal["queued", "running", "done", "failed"]


@dataclass(frozen=True)
class StagedFile:
    """An uploaded file waiting for its job: a private copy, and the name it was uploaded under."""

    path: str
    source: str


@dataclass(frozen=True)
class Job:
    id: str
    kb: str
    status: JobStatus
    total: int
    done: int
    files: list[dict]  # per file: source, status, and when finished doc_id, chunks, error, warnings
    error: str | None
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    worker: str | None = None
    staged: tuple[StagedFile, ...] = ()
    meta: DocumentMeta | None = None
    submitted_by: str = ""  # the principal id that uploaded: what the document history names

    def public(self) -> dict:
        """What the jobs API shows: progress and results, not where the files sit."""
        return {
            "id": self.id, "kb": self.kb, "status": self.status, "total": self.total, "done": self.done,
            "files": self.files, "error": self.error, "attempts": self.attempts,
            "created_at": self.created_at, "updated_at": self.updated_at,
        }


class JobQueue(Protocol):
    """Ingestion jobs that outlive the process that accepted them.

    Contract:
    - ``submit`` records a queued job durably before returning.
    - ``claim`` atomically hands the oldest claimable job to one worker with a lease: a queued job, or a
      running one whose lease expired (its worker died). Two workers never hold one job at once. A job
      claimed ``max_attempts`` times without finishing is failed instead of claimed again.
    - ``renew`` extends a held lease; False means the job is no longer this worker's (stop working on it).
    - ``progress`` and ``finish`` from a worker that no longer holds the job are ignored.
    """

    def submit(self, kb: str, files: Sequence[StagedFile], meta: DocumentMeta, *, job_id: str | None = None,
               submitted_by: str = "") -> Job: ...

    def get(self, job_id: str) -> Job | None: ...

    def claim(self, worker: str, *, lease_seconds: float) -> Job | None: ...

    def renew(self, job_id: str, worker: str, *, lease_seconds: float) -> bool: ...

    def progress(self, job_id: str, worker: str, *, done: int, files: list[dict]) -> None: ...

    def finish(self, job_id: str, worker: str, *, status: JobStatus, error: str | None = None) -> None: ...

    def wait_for_work(self, timeout: float) -> None:
        """Block until a job may be claimable or ``timeout`` passes (wakes early on a local submit)."""
        ...

    def active_ids(self) -> set[str]:
        """Jobs that are queued or running (their uploaded files must be kept)."""
        ...

    def status_counts(self) -> dict[str, int]:
        """How many jobs are in each status (every status present, zero or not): the console's queue view."""
        ...


# ---------------------------------------------------------------------------------------- coordination
class StorageLock(Protocol):
    """Who may write to the storage. The embedded stores allow one process per data directory
    (Chroma loses vectors with two writers); shared engines allow many.

    Contract: ``acquire`` raises ``DataDirLocked`` naming the holder when another process owns the
    storage; ``holder`` tells who (pid, and URL for a server) so a CLI can send work there instead;
    ``exclusive`` is True when holding the lock means no other process writes meanwhile;
    ``needs_full_sweep`` is True when the previous owner of exclusive storage died holding it (or is
    unknown), so its leftovers are looked for by comparing every index entry with the catalog; the
    owner sets it False once it has, and lets go saying so.
    """

    exclusive: bool
    needs_full_sweep: bool

    def acquire(self, url: str | None = None) -> None: ...

    def release(self) -> None: ...

    def holder(self) -> dict | None: ...


class Visibility(Protocol):
    """Keeps a query's index search and catalog resolve on one side of a document switch.

    Contract: while any ``reading()`` is open no ``switching()`` body runs, and the reverse; writers are
    not starved by a stream of readers. Both are short (milliseconds).
    """

    def reading(self) -> AbstractContextManager[None]: ...

    def switching(self) -> AbstractContextManager[None]: ...


class DocumentLocks(Protocol):
    """Keeps two writers off one document: held from reading what is stored to the switch.

    Contract: while one holder has ``hold(kb, ids)`` open, another ``hold`` naming any of the same
    (kb, id) pairs waits, in this process or (shared storage) in any other; a holder that dies lets go.
    ``hold`` takes its ids in one order, so two holders of overlapping sets cannot deadlock.
    """

    def hold(self, kb: str, doc_ids: Iterable[str]) -> AbstractContextManager[None]: ...


# ---------------------------------------------------------------------------------------- conversations
class ConversationStore(Protocol):
    """Turns of conversations, by conversation id, oldest first.

    Contract: ``append`` keeps order within a conversation; conversations never see each other's turns;
    a conversation keeps at most the store's ``max_turns`` latest turns; embeddings round-trip as float32.
    """

    def append(self, conversation_id: str, turn: Turn) -> None: ...

    def recent(self, conversation_id: str, limit: int) -> list[Turn]:
        """The last ``limit`` turns, oldest first."""
        ...

    def older(self, conversation_id: str, skip: int, limit: int) -> list[Turn]:
        """Up to ``limit`` turns before the most recent ``skip``, oldest first (candidates for recall)."""
        ...

    def forget(self, conversation_id: str) -> None: ...


# ---------------------------------------------------------------------------------------- accounts
class Directory(Protocol):
    """Departments, console users, API keys, IM identity rules, customer bindings, order verifications.

    Contract: names are validated like knowledge-base names; a department must exist before a user, key
    or rule names it (``DirectoryError``); secrets are stored only as hashes (the caller hashes);
    ``find_key`` looks a key up by its hash alone; a revoked or expired key stays listed; deleting a
    user removes its memberships; ``verified_orders`` only lists verifications that have not expired.
    """

    def create_department(self, name: str, description: str = "") -> bool: ...

    def list_departments(self) -> list[Department]: ...

    def delete_department(self, name: str) -> bool: ...

    def create_user(self, username: str, password_hash: str, role: Role, departments_: Sequence[str] = (),
                    display_name: str = "") -> User: ...

    def get_user(self, username: str) -> User | None: ...

    def password_hash(self, username: str) -> str | None:
        """The stored hash of an enabled user (None for an unknown or disabled one)."""
        ...

    def list_users(self) -> list[User]: ...

    def update_user(self, username: str, *, role: Role | None = None, departments_: Sequence[str] | None = None,
                    password_hash: str | None = None, disabled: bool | None = None,
                    display_name: str | None = None) -> User | None: ...

    def delete_user(self, username: str) -> bool: ...

    def count_users(self) -> int: ...

    def touch_login(self, username: str) -> None: ...

    def create_key(self, key_id: str, key_hash: str, role: Role, *, name: str = "", departments_: Sequence[str] = (),
                   created_by: str = "", expires_at: datetime | None = None) -> ApiKey: ...

    def find_key(self, key_hash: str) -> ApiKey | None: ...

    def list_keys(self) -> list[ApiKey]: ...

    def revoke_key(self, key_id: str) -> bool: ...

    def touch_key(self, key_id: str) -> None: ...

    def add_im_rule(self, rule: ImRule) -> ImRule: ...

    def list_im_rules(self) -> list[ImRule]: ...

    def delete_im_rule(self, rule_id: int) -> bool: ...

    def bind_customer(self, platform: str, user_id: str, customer_id: str) -> CustomerBinding: ...

    def customer_of(self, platform: str, user_id: str) -> str | None: ...

    def list_bindings(self) -> list[CustomerBinding]: ...

    def unbind_customer(self, platform: str, user_id: str) -> bool: ...

    def verify_order(self, principal_id: str, order_no: str, until: datetime) -> None: ...

    def verified_orders(self, principal_id: str) -> set[str]: ...


class AuditLog(Protocol):
    """Every question and every administrative act, append-only.

    Contract: ``append`` stores the entry whole and returns its id (ids grow); nothing edits a row;
    ``query`` returns rows matching every filter, newest first; ``iterate`` pages through all of them;
    ``purge`` deletes only rows older than its argument (the retention period).
    """

    def append(self, entry: AuditEntry) -> int: ...

    def query(self, query: AuditQuery) -> list[AuditEntry]: ...

    def iterate(self, query: AuditQuery, page: int = 500) -> Iterator[AuditEntry]: ...

    def purge(self, older_than: datetime) -> int: ...

    def count(self) -> int: ...


class Sessions(Protocol):
    """The console's live board: one row per conversation of a principal.

    Contract: ``record`` counts one question into its session, creating it with the first (safe when
    two processes record the first question of one session at once); ``query`` returns the sessions
    matching every filter, most recently active first; a session's turns are its audit rows
    (``AuditQuery(conversation=session id)``).
    """

    def record(self, session_id: str, principal: Principal, entry: AuditEntry) -> None: ...

    def query(self, query: SessionQuery) -> list[Session]: ...

    def get(self, session_id: str) -> Session | None: ...

    def count(self) -> int: ...


# ---------------------------------------------------------------------------------------- feedback
@dataclass(frozen=True)
class GapPage:
    """One page of gaps, newest first, and how many match in all."""

    gaps: list[Gap]
    total: int


@dataclass(frozen=True)
class ImReply:
    """A message a bot sent on a platform, and the answer (audit row) it carried, in which chat."""

    platform: str
    message_id: str
    entry_id: int
    chat_id: str


class Feedback(Protocol):
    """Votes on answers, the curation queue (gaps), and which IM message carried which answer.

    Contract:
    - ``vote`` keeps one vote per principal and answer: a second replaces the first, also when two
      processes vote at once; it returns True when it replaced one.
    - ``open_gap`` opens a gap for a question, unless an open gap has the same question (compared
      normalised: width, case, spaces and end punctuation), the same knowledge bases and the same asker
      departments: then that gap counts one more ``asked`` and is returned. The answer (audit row) that
      opened a gap opens no other and counts no more. It is one short transaction (it runs on every
      refused answer).
    - ``gaps`` lists the gaps matching the query newest first with the total, paged and counted by
      the database (see ``GapQuery`` for the visibility filters).
    - ``resolve_gap`` moves an open gap to ``curated`` or ``dismissed`` once; False when it was not open.
    - ``remember_reply`` maps a platform's message id to the answer it carried (idempotent); ``reply``
      looks it up.
    """

    def vote(self, entry_id: int, principal_id: str, vote: Vote, *, channel: str = "", comment: str = "") -> bool: ...

    def votes(self, entry_id: int) -> list[FeedbackVote]: ...

    def open_gap(self, entry_id: int, entry: AuditEntry, reason: GapReason) -> Gap: ...

    def gap(self, gap_id: int) -> Gap | None: ...

    def gaps(self, query: GapQuery) -> GapPage: ...

    def resolve_gap(self, gap_id: int, status: Literal["curated", "dismissed"], *, by: str,
                    curated_doc: str | None = None) -> bool: ...

    def remember_reply(self, reply: ImReply) -> None: ...

    def reply(self, platform: str, message_id: str) -> ImReply | None: ...


# ---------------------------------------------------------------------------------------- routing rules
class RuleStore(Protocol):
    """Routing rules, in order, with every saved state kept.

    Contract:
    - ``list_rules`` returns every rule ordered by ``position`` (1, 2, ... with no gaps); ``get`` one by id
      (None when unknown or deleted). Ids are never reused, not even those of deleted rules.
    - ``create`` appends the rule (or inserts it at ``position``, moving the later ones down) as version
      1. ``update`` saves a new spec as version + 1 (``expected_version``: raises ``RuleConflict`` when
      the rule was saved meanwhile). ``move`` puts a rule at ``position`` (clamped to 1..n) as version
      + 1. ``delete`` removes it and records its last state, marked deleted, as version + 1. Unknown
      ids raise ``UnknownRule``.
    - Every one of these records a snapshot (``history``: oldest first, deleted rules' too) with who
      and when, and bumps ``revision`` in the same transaction: a reader that sees the new revision
      sees the change. Writers are serialised (no two rules ever share a position).
    - ``revision`` is one primary-key read; it only grows.
    - ``seed`` creates, at the end, each given rule whose name no rule of ``source`` ever had (so a
      seeded rule deleted by an administrator is not seeded again); safe when two processes seed at once.
    """

    def list_rules(self) -> list[RoutingRule]: ...

    def get(self, rule_id: int) -> RoutingRule | None: ...

    def create(self, spec: RuleSpec, *, by: str, source: RuleSource = "api", position: int | None = None) -> RoutingRule: ...

    def update(self, rule_id: int, spec: RuleSpec, *, by: str, expected_version: int | None = None) -> RoutingRule: ...

    def move(self, rule_id: int, position: int, *, by: str) -> RoutingRule: ...

    def delete(self, rule_id: int, *, by: str) -> RoutingRule: ...

    def history(self, rule_id: int) -> list[RuleVersion]: ...

    def revision(self) -> int: ...

    def seed(self, specs: Sequence[RuleSpec], *, source: RuleSource, by: str) -> list[RoutingRule]: ...
