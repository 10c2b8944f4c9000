"""Engines and sessions.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so several workers queue for the write lock instead of failing with
"database is locked" half-way through a transaction. Read-only requests use a second engine on the
same file whose transactions begin deferred, so readers never wait for writers.

A unit of work opened with ``write="late"`` (the scoring writes) reads like a read-only one and takes the
write lock only when it first writes (see ``begin_write``): until then other writers are not kept waiting
by its authentication and reads.

Every engine hides SQL parameters (``hide_parameters=True``): a failed INSERT of a user must not put
the password hash, or any other value, into a log line or an error message.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings


def _sqlite_engine(settings: Settings, begin: str) -> Engine:
    engine = create_engine(
        settings.database_url,
        connect_args={"check_same_thread": False, "timeout": settings.sqlite_busy_timeout_ms / 1000},
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):  # pragma: no cover - exercised by every test
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions are turned off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        conn.info.pop(_LATE, None)
        conn.info.pop(_MOVED, None)
        conn.exec_driver_sql(begin)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_execute(conn, _cursor, statement, _parameters, _context, _executemany):
        if conn.info.get(_LATE) == "reading" and not _reads_only(statement):
            _take_write_lock(conn)

    # Late writers of this process queue here for SQLite's write lock, first come first served, instead
    # of polling it in SQLite's busy handler (which sleeps up to 100 ms between tries).
    engine.info = getattr(engine, "info", None) or {}
    engine.info[_GATE] = threading.Lock()
    engine.info[_GATE_TIMEOUT] = settings.sqlite_busy_timeout_ms / 1000
    return engine


# A late-writing SQLite transaction: "reading" until its first write, then "writing".
_LATE = "serr_late_write"
_MOVED = "serr_snapshot_moved"
_GATE = "serr_write_gate"
_GATE_TIMEOUT = "serr_write_gate_timeout"


def _reads_only(statement: str) -> bool:
    head = statement.lstrip()[:8].upper()
    return head.startswith(("SELECT", "PRAGMA"))


def _take_write_lock(conn) -> None:
    """Turn a deferred SQLite read transaction into a write transaction, without upgrading it in place.

    Upgrading a read transaction fails at once with SQLITE_BUSY when another connection holds the write
    lock or has committed since the snapshot (the busy timeout is not applied to an upgrade), so the read
    transaction ends (it wrote nothing) and ``BEGIN IMMEDIATE`` queues for the lock as every writer does.
    ``PRAGMA data_version`` before and after says whether another connection committed in between: if not,
    everything read is exactly what a transaction holding the lock from the start would have read.
    """
    cursor = conn.connection.dbapi_connection.cursor()
    gate = conn.engine.info.get(_GATE)
    try:
        before = cursor.execute("PRAGMA data_version").fetchone()[0]
        cursor.execute("COMMIT")
        if gate is not None and gate.acquire(timeout=conn.engine.info[_GATE_TIMEOUT]):
            conn.info[_GATE] = gate  # released when the unit of work ends
        cursor.execute("BEGIN IMMEDIATE")
        after = cursor.execute("PRAGMA data_version").fetchone()[0]
    finally:
        cursor.close()
    conn.info[_LATE] = "writing"
    conn.info[_MOVED] = before != after


@dataclass
class Database:
    """The write engine and the read engine (the same object outside SQLite)."""

    engine: Engine
    read_engine: Engine
    write_sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        if settings.is_sqlite:
            engine = _sqlite_engine(settings, "BEGIN IMMEDIATE")
            read_engine = _sqlite_engine(settings, "BEGIN")
        else:
            engine = create_engine(
                settings.database_url,
                pool_pre_ping=True,
                pool_size=settings.db_pool_size,
                hide_parameters=True,
            )
            read_engine = engine
        return cls(
            engine=engine,
            read_engine=read_engine,
            write_sessions=sessionmaker(engine, expire_on_commit=False),
            read_sessions=sessionmaker(read_engine, expire_on_commit=False),
        )

    @contextmanager
    def unit_of_work(
        self,
        *,
        write: bool | Literal["late"] = True,
        request_id: str | None = None,
        client_address: str | None = None,
    ) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back on any error.

        ``write="late"``: on SQLite a deferred transaction that takes the write lock at its first write
        statement or at ``begin_write``, whichever comes first; elsewhere the same as ``write=True``.
        """
        late = write == "late" and self.engine.dialect.name == "sqlite"
        factory = self.read_sessions if late or not write else self.write_sessions
        with factory() as session:
            # Whether this unit of work may write: SQLite read transactions must not.
            session.info["can_write"] = bool(write) or self.engine.dialect.name != "sqlite"
            session.info["request_id"] = (request_id or uuid.uuid4().hex)[:64]
            # Recorded with the audit events this unit of work writes.
            session.info["client_address"] = client_address[:64] if client_address else None
            conn_info: dict = {}
            if late:
                session.info[_LATE] = True
                conn_info = session.info[_CONN_INFO] = session.connection().info
                conn_info[_LATE] = "reading"
            try:
                yield session
                moved = late and (session.info.get(PENDING_WRITES) or conn_info.get(_MOVED))
                if moved and not begin_write(session):
                    recheck(session)
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                gate = conn_info.pop(_GATE, None)
                if gate is not None:
                    gate.release()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


def commit_now(session: Session) -> None:
    """Commit the unit of work here rather than when the request's dependencies end, so that a late
    writer holds SQLite's write lock only for its statements, not while the request is handed back to the
    event loop; the unit of work then has nothing more to commit."""
    session.commit()
    gate = session.info.get(_CONN_INFO, {}).pop(_GATE, None)
    if gate is not None:
        gate.release()


_CONN_INFO = "serr_conn_info"
RECHECKS = "serr_rechecks"
PENDING_WRITES = "serr_pending_writes"


def writes_late(session: Session) -> bool:
    """Whether the session has not taken the write lock yet (a late-writing SQLite unit of work)."""
    return bool(session.info.get(_LATE)) and session.connection().info.get(_LATE) == "reading"


def when_writing(session: Session, write: Callable[[], object]) -> None:
    """Run ``write`` now, or with the first write of a late-writing unit of work that has not written yet."""
    if writes_late(session):
        session.info.setdefault(PENDING_WRITES, []).append(write)
    else:
        write()


def on_snapshot_moved(session: Session, check: Callable[[], object]) -> None:
    """``check`` (which raises when what it checked no longer holds) is run again if another connection
    committed between this unit of work's reads and its taking the write lock."""
    session.info.setdefault(RECHECKS, []).append(check)


def begin_write(session: Session) -> bool:
    """Take the write lock now (a late-writing SQLite unit of work; a no-op elsewhere).

    True when everything the unit of work read still holds: no other connection committed between its
    reads and the lock. False when one did: the caller must check again what its writes rely on, under the
    lock: ``recheck`` (authentication) and a second read, or statements that check it themselves.
    PostgreSQL answers True: its writers check what they rely on in their statements and row locks.
    """
    moved = False
    if session.info.get(_LATE):
        conn = session.connection()
        if conn.info.get(_LATE) == "reading":
            _take_write_lock(conn)
        moved = bool(conn.info.pop(_MOVED, False))
    for write in session.info.pop(PENDING_WRITES, []):
        write()
    return not moved


def recheck(session: Session) -> None:
    """Run the checks registered with ``on_snapshot_moved`` again (they raise when one no longer holds)."""
    for check in session.info.get(RECHECKS, []):
        check()


def dialect_insert(session: Session, entity):
    """An INSERT that supports ``on_conflict_do_nothing/do_update`` on both SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(entity)


def broken_constraint(exc: DBAPIError) -> str:
    """What a database error says it broke: a constraint or index name, or SQLite's column list.

    PostgreSQL names the constraint; SQLite names an expression index (``index 'uq_…'``) or lists the
    columns of a plain unique constraint (``proposals.cycle_id, proposals.reference``).
    """
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        return diag.constraint_name or ""
    text = str(exc.orig)
    named = re.search(r"index '([^']+)'", text)
    if named:
        return named.group(1)
    return text.partition(":")[2].strip()


def error_summary(exc: DBAPIError) -> str:
    """A database error for the log: its message and constraint, never the values.

    PostgreSQL's DETAIL repeats the failing row (``Failing row contains (…)``), which for the users table
    holds the password hash, so only the primary message is kept.
    """
    diag = getattr(exc.orig, "diag", None)
    if diag is not None:
        message = diag.message_primary or type(exc.orig).__name__
        return f"{message} (constraint {diag.constraint_name})" if diag.constraint_name else message
    return str(exc.orig).splitlines()[0] if str(exc.orig) else type(exc.orig).__name__
