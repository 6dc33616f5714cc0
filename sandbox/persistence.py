"""SQLite persistence for `--data-dir`: a restarted sandbox comes back with every object.

Writes go through on each change and are committed in small batches (at most
`commit_interval` seconds later, and always on `close`), so a clean stop loses nothing and a
crash loses at most that interval. The global resourceVersion is stored with the objects, so
versions keep increasing across restarts. It knows nothing of API semantics.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

__all__ = ["SqlitePersistence"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
  key TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, raw BLOB NOT NULL,
  PRIMARY KEY (key, namespace, name));
CREATE TABLE IF NOT EXISTS logs (
  namespace TEXT NOT NULL, pod TEXT NOT NULL, container TEXT NOT NULL, text TEXT NOT NULL,
  PRIMARY KEY (namespace, pod, container));
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v INTEGER NOT NULL);
"""


class SqlitePersistence:
    """Objects and pod logs in `<data_dir>/sandbox.db`."""

    def __init__(self, data_dir: Path, commit_interval: float = 0.2) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "sandbox.db"
        self.db = sqlite3.connect(self.path, isolation_level="DEFERRED", check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self.db.commit()
        self.commit_interval = commit_interval
        self._last_commit = time.monotonic()
        self._dirty = False

    def _touch(self, rv: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (k, v) VALUES ('rv', ?)", (rv,))
        self._dirty = True
        now = time.monotonic()
        if now - self._last_commit >= self.commit_interval:
            self.commit()

    def commit(self) -> None:
        if self._dirty:
            self.db.commit()
            self._dirty = False
        self._last_commit = time.monotonic()

    def save(self, key: str, namespace: str, name: str, raw: bytes, rv: int) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO objects (key, namespace, name, raw) VALUES (?, ?, ?, ?)",
            (key, namespace, name, raw),
        )
        self._touch(rv)

    def delete(self, key: str, namespace: str, name: str, rv: int) -> None:
        self.db.execute(
            "DELETE FROM objects WHERE key = ? AND namespace = ? AND name = ?",
            (key, namespace, name),
        )
        if key == "pods":
            self.db.execute("DELETE FROM logs WHERE namespace = ? AND pod = ?", (namespace, name))
        self._touch(rv)

    def save_log(self, namespace: str, pod: str, container: str, text: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO logs (namespace, pod, container, text) VALUES (?, ?, ?, ?)",
            (namespace, pod, container, text),
        )
        self._dirty = True

    def load(self) -> tuple[int, list[tuple[str, bytes]], list[tuple[str, str, str, str]]]:
        row = self.db.execute("SELECT v FROM meta WHERE k = 'rv'").fetchone()
        objects = [(k, bytes(raw)) for k, raw in self.db.execute("SELECT key, raw FROM objects")]
        logs = list(self.db.execute("SELECT namespace, pod, container, text FROM logs"))
        return (int(row[0]) if row else 0), objects, logs

    def close(self) -> None:
        self._dirty = True
        self.commit()
        self.db.close()
