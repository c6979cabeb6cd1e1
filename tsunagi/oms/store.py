"""The store: one narrow interface over SQLite (WAL) with portable SQL, one transaction per apply."""
from __future__ import annotations

import errno
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from tsunagi.common.clock import timestamp
from tsunagi.common.errors import TsunagiError
from tsunagi.oms import migrations

T = TypeVar("T")
BUSY_SECONDS = 30.0         # a writer waits this long for another's lock before giving up (and retrying later)
POLL_SECONDS = 0.005        # how often a waiting writer asks again: it gets in between a long writer's chunks
CHUNK_ROWS = 5000           # a long writer commits after this many rows ...
CHUNK_SECONDS = 0.5         # ... or this long, whichever comes first
CHUNK_GAP_SECONDS = 0.02    # and leaves the lock free this long, for whoever waits
# Failures that are the moment's, not the item's: the same work succeeds once the lock, the disk or
# the descriptors are free again. Work that meets them is put back and retried, never quarantined.
TRANSIENT_SQLITE = ("SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CANTOPEN", "SQLITE_NOMEM")
TRANSIENT_ERRNO = {errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.EAGAIN}


_END = object()      # the end of in_chunks' rows


class StoreError(TsunagiError, ValueError):
    """A database this tsunagi cannot use as asked: missing, or of another schema version. One line."""


class Tx:
    """A transaction's cursor: run, one, all, value. Everything the domain does goes through it."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn
        self.memo: dict = {}     # lookups that cannot change while this transaction does not change them

    def run(self, sql: str, *params) -> sqlite3.Cursor:
        return self._conn.execute(sql, params)

    def many(self, sql: str, rows) -> None:
        self._conn.executemany(sql, rows)

    def one(self, sql: str, *params):
        return self._conn.execute(sql, params).fetchone()

    def all(self, sql: str, *params) -> list:
        return self._conn.execute(sql, params).fetchall()

    @contextmanager
    def savepoint(self) -> Iterator["Tx"]:
        """A unit inside the transaction that rolls back alone (one spool item of a batch)."""
        self._conn.execute("SAVEPOINT item")
        try:
            yield self
        except BaseException:
            if self._conn.in_transaction:    # SQLite ends the whole transaction itself on some errors (disk full)
                self._conn.execute("ROLLBACK TO item")
                self._conn.execute("RELEASE item")
            self.memo.clear()      # what was looked up or noted inside may have been rolled back
            raise
        self._conn.execute("RELEASE item")

    def value(self, sql: str, *params, default=None):
        row = self._conn.execute(sql, params).fetchone()
        return default if row is None or row[0] is None else row[0]


class Store:
    """One SQLite database file; one connection per thread; writes in BEGIN IMMEDIATE transactions.

    Opening it brings the schema to migrations.LATEST (creating the file if need be); a read-only
    store (open_read_only) creates and changes nothing."""

    def __init__(self, path: Path | str, synchronous: str = "FULL", *, read_only: bool = False,
                 busy_seconds: float = BUSY_SECONDS):
        self.path = str(path)
        self.synchronous = synchronous
        self.busy_seconds = busy_seconds
        self.read_only = read_only
        self._local = threading.local()
        if read_only:
            self._check_readable()
        else:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._migrate()

    @classmethod
    def open_read_only(cls, path: Path | str) -> "Store":
        """A reader that never waits for a writer (it sees the last commit), never writes, never migrates."""
        return cls(path, read_only=True)

    def version(self) -> int:
        """The schema version the database records (0: written before migrations were numbered)."""
        return self.read().value("PRAGMA user_version")

    def _migrate(self) -> None:
        if self._refuse_newer(self._readable_version()) == migrations.LATEST:
            return
        for number, step in enumerate(migrations.MIGRATIONS, 1):
            with self.transaction() as tx:
                # read under the write lock: another process may have migrated since
                if self._refuse_newer(tx.value("PRAGMA user_version")) < number:
                    step(tx)
                    tx.run(f"PRAGMA user_version = {number}")

    def _refuse_newer(self, version: int) -> int:
        if version > migrations.LATEST:
            raise StoreError(f"{self.path} was written by a newer tsunagi (schema {version}, this one knows "
                             f"{migrations.LATEST}): upgrade tsunagi")
        return version

    def _check_readable(self) -> None:
        if not Path(self.path).is_file():
            raise StoreError(f"no database at {self.path}: start tsunagi serve once, or run tsunagi import")
        try:
            version = self._refuse_newer(self._readable_version())
            # an older schema may lack columns the read paths use: only a writer brings it up to date
            if version < migrations.LATEST:
                raise StoreError(f"{self.path} has schema {version}, this tsunagi reads {migrations.LATEST}: "
                                 f"start tsunagi serve (or run tsunagi check) once to upgrade it")
        except StoreError:
            self.close()
            raise

    def _readable_version(self) -> int:
        try:
            return self.version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(_unreadable(self.path, exc)) from None

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect_read_only() if self.read_only else self._connect()
            self._local.conn = conn
        return conn

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_seconds, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")
        conn.execute("PRAGMA cache_size=-65536")    # 64 MB: imports touch orders, lines and stock at random
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        # mode=ro never creates the file; in WAL a reader takes no lock a writer's BEGIN IMMEDIATE holds,
        # so the short busy timeout only covers the moment a crashed writer's WAL index is rebuilt
        uri = Path(self.path).resolve().as_uri() + "?mode=ro"
        conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=5, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.read_only:
            raise StoreError(f"{self.path} is open read-only here: writing needs Store(path)")
        conn = self._conn()
        self._begin(conn)
        try:
            yield Tx(conn)
            conn.execute("COMMIT")
        except BaseException:
            # a failed COMMIT (disk full) may leave the transaction open, or SQLite may have ended it
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextmanager
    def snapshot(self) -> Iterator[Tx]:
        """One consistent view of the last commit, holding no write lock (WAL): for long work whose
        result a short transaction records afterwards."""
        conn = self._conn()
        conn.execute("BEGIN DEFERRED")
        try:
            yield Tx(conn)
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")

    def _begin(self, conn: sqlite3.Connection) -> None:
        """BEGIN IMMEDIATE, asked again every few ms up to busy_seconds: SQLite's own busy handler asks
        every 100 ms and would never meet the short gaps a long writer leaves between its chunks."""
        deadline = time.monotonic() + self.busy_seconds
        conn.execute("PRAGMA busy_timeout=0")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as exc:
                    if getattr(exc, "sqlite_errorname", "") != "SQLITE_BUSY" or time.monotonic() >= deadline:
                        raise
                time.sleep(POLL_SECONDS)
        finally:
            conn.execute(f"PRAGMA busy_timeout={int(self.busy_seconds * 1000)}")

    def in_chunks(self, rows: Iterable[T], apply: Callable[[Tx, T], Any]) -> list:
        """apply(tx, row) for every row, committed every CHUNK_ROWS rows or CHUNK_SECONDS, whichever first;
        returns what each call returned. Another writer waits at most one chunk; no rows, no transaction.
        Only for work whose rows are safe to apply again (keyed or absolute): a run stopped part-way
        leaves the chunks committed so far, and is repaired by running it again."""
        out: list = []
        source = iter(rows)
        row = next(source, _END)
        while row is not _END:
            started, before = time.monotonic(), len(out)
            with self.transaction() as tx:
                while row is not _END:
                    out.append(apply(tx, row))
                    row = next(source, _END)
                    if len(out) - before >= CHUNK_ROWS or time.monotonic() - started >= CHUNK_SECONDS:
                        break
            if row is not _END:
                time.sleep(CHUNK_GAP_SECONDS)
        return out

    def read(self) -> Tx:
        """For queries outside a write transaction (each statement sees a consistent snapshot)."""
        return Tx(self._conn())

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _unreadable(path: str, exc: sqlite3.DatabaseError) -> str:
    """Why a read-only open failed, in words an operator can act on."""
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_READONLY_DIRECTORY":
        # closed cleanly, the database has no -shm file; a reader must create one and may not write here
        return (f"cannot read {path} while no tsunagi has it open: its -shm file is missing and this user "
                f"may not create it in {Path(path).parent} (run as tsunagi's user, or while tsunagi serve runs)")
    return f"cannot read {path}: {exc}"


def transient(exc: BaseException) -> bool:
    """A busy or locked database, a full disk, no descriptors left: the moment's failure, worth retrying."""
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorname", "").startswith(TRANSIENT_SQLITE) or "locked" in str(exc) \
            or "disk is full" in str(exc)
    return isinstance(exc, OSError) and exc.errno in TRANSIENT_ERRNO


def already_applied(tx: Tx, sha256: str) -> bool:
    return tx.one("SELECT 1 FROM applied_items WHERE sha256 = ?", sha256) is not None


def record_applied(tx: Tx, sha256: str, item_id: str, outcome: str) -> None:
    tx.run("INSERT INTO applied_items (sha256, item_id, applied_at, outcome) VALUES (?, ?, ?, ?) "
           "ON CONFLICT (sha256) DO NOTHING", sha256, item_id, timestamp(), outcome)
