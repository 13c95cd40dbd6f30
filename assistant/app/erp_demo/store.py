"""The demo ERP's storage: orders from a JSON seed file, kept in SQLite.

One table of orders (the record as JSON, plus the columns the API filters on). Seeding replaces
every order the seed file names, so re-running the demo resets its orders to the file.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

from assistant.erp.models import Order, OrderSummary
from assistant.errors import AssistantError


class SeedError(AssistantError):
    """The seed file is missing or not in the expected shape."""

    def __init__(self, path: Path, problem: str):
        self.path = path
        super().__init__(f"ERP seed file {path}: {problem}")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS orders (
    order_no    TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL,
    placed_at   TEXT NOT NULL,
    record      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_customer ON orders (customer_id, placed_at);
"""


class OrderStore:
    """Orders by number and by customer, in one SQLite file."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, check_same_thread=False)
        self._lock = threading.Lock()  # one connection shared by the server's worker threads
        with self._lock, self._conn:
            self._conn.executescript(_SCHEMA)

    def seed(self, seed_file: Path) -> int:
        """Load (or reload) the orders of a seed file; returns how many were written."""
        seed_file = Path(seed_file)
        try:
            raw = json.loads(seed_file.read_text(encoding="utf-8"))
            orders = [Order.model_validate(o) for o in raw["orders"]]
        except FileNotFoundError:
            raise SeedError(seed_file, "not found; pass --seed with the path of an orders JSON file") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise SeedError(seed_file, f"not a valid orders file ({exc.__class__.__name__}: {exc})") from None
        self.put(orders)
        return len(orders)

    def put(self, orders: list[Order]) -> None:
        rows = [(o.order_no, o.customer_id, o.placed_at, o.model_dump_json()) for o in orders]
        with self._lock, self._conn:
            self._conn.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?, ?)", rows)

    def get(self, order_no: str) -> Order | None:
        with self._lock:
            row = self._conn.execute("SELECT record FROM orders WHERE order_no = ?", (order_no,)).fetchone()
        return Order.model_validate_json(row[0]) if row else None

    def of_customer(self, customer_id: str) -> list[OrderSummary]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT record FROM orders WHERE customer_id = ? ORDER BY placed_at DESC", (customer_id,)
            ).fetchall()
        return [OrderSummary.model_validate(Order.model_validate_json(r[0]).model_dump()) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
