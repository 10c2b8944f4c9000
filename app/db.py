"""Engines and sessions.

SQLite runs in WAL mode with foreign keys on and a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so several workers queue for the write lock instead of failing with
"database is locked" half-way through a transaction. Read-only requests use a second engine on the
same file whose transactions begin deferred, so readers never wait for writers.

Every engine hides SQL parameters (``hide_parameters=True``): a failed INSERT of a user must not put
the password hash, or any other value, into a log line or an error message.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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
        conn.exec_driver_sql(begin)

    return engine


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
    def unit_of_work(self, *, write: bool = True, request_id: str | None = None) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back on any error."""
        factory = self.write_sessions if write else self.read_sessions
        with factory() as session:
            # Whether this unit of work may write: SQLite read transactions must not.
            session.info["can_write"] = write or self.engine.dialect.name != "sqlite"
            session.info["request_id"] = (request_id or uuid.uuid4().hex)[:64]
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


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
