"""Document locks: a second writer of a document waits for the first; writers of other documents don't.

On SQLite the locks are this process's; on PostgreSQL they are advisory locks every process on the
database shares, so the suite also holds one from a separate Python process.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from assistant.storage.sql.locks import PostgresDocumentLocks, document_locks, lock_key

WAIT = 0.4  # how long the first holder keeps the lock


def _second_holder_waited(locks, first: list[str], second: list[str], kb: str = "support") -> float:
    """Seconds the second holder waited while the first held ``first`` for ``WAIT`` seconds."""
    taken = threading.Event()

    def hold_first() -> None:
        with locks.hold(kb, first):
            taken.set()
            time.sleep(WAIT)

    thread = threading.Thread(target=hold_first)
    thread.start()
    assert taken.wait(10)
    t0 = time.perf_counter()
    with locks.hold(kb, second):
        waited = time.perf_counter() - t0
    thread.join()
    return waited


def test_one_document_one_writer_at_a_time(engine):
    locks = document_locks(engine)
    assert _second_holder_waited(locks, ["refund-sop"], ["refund-sop"]) >= WAIT * 0.8


def test_other_documents_and_other_kbs_do_not_wait(engine):
    locks = document_locks(engine)
    assert _second_holder_waited(locks, ["refund-sop"], ["invoice-sop"]) < WAIT * 0.5
    taken = threading.Event()

    def hold_in_support() -> None:
        with locks.hold("support", ["faq"]):
            taken.set()
            time.sleep(WAIT)

    thread = threading.Thread(target=hold_in_support)
    thread.start()
    assert taken.wait(10)
    t0 = time.perf_counter()
    with locks.hold("finance", ["faq"]):  # same document id in another knowledge base
        assert time.perf_counter() - t0 < WAIT * 0.5
    thread.join()


def test_overlapping_sets_in_opposite_orders_do_not_deadlock(engine):
    locks = document_locks(engine)
    done: list[str] = []

    def writer(ids: list[str]) -> None:
        for _ in range(20):
            with locks.hold("support", ids):
                time.sleep(0.001)
        done.append(",".join(ids))

    threads = [threading.Thread(target=writer, args=(ids,)) for ids in (["a", "b", "c"], ["c", "b", "a"], ["b", "a"])]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(done) == 3, "writers of overlapping documents deadlocked"


def test_a_lock_released_by_an_error_is_free_again(engine):
    locks = document_locks(engine)
    with pytest.raises(RuntimeError):
        with locks.hold("support", ["refund-sop"]):
            raise RuntimeError("the ingestion failed half way")
    assert _second_holder_waited(locks, ["invoice-sop"], ["refund-sop"]) < WAIT * 0.5


@pytest.mark.services
def test_a_writer_in_another_process_waits_and_a_killed_holder_lets_go(engine):
    if engine.dialect.name != "postgresql":
        pytest.skip("only PostgreSQL's locks reach other processes")
    locks = document_locks(engine)
    assert isinstance(locks, PostgresDocumentLocks)
    key = lock_key("support", "refund-sop")
    url = engine.url.render_as_string(hide_password=False)
    holder = (
        "import sys, time; from sqlalchemy import create_engine, text\n"
        f"conn = create_engine({url!r}).connect()\n"
        f"conn.execute(text('SELECT pg_advisory_lock({key})')); conn.commit()\n"
        "print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        got = threading.Event()

        def take() -> None:
            with locks.hold("support", ["refund-sop"]):
                got.set()

        thread = threading.Thread(target=take, daemon=True)
        thread.start()
        assert not got.wait(0.8), "a writer went ahead while another process held the document"
        proc.kill()  # kill -9: PostgreSQL drops the dead session's locks
        assert got.wait(10), "the lock of a killed process was never released"
        thread.join(5)
    finally:
        proc.kill()
        proc.wait()
