"""The audit trail as a CSV file a spreadsheet opens: a header row, ISO 8601 times (UTC), the changes as
JSON text, and text cells that a spreadsheet would read as a formula escaped by the ranking exports' rule.

Rows are written as they are read, so a download of the whole trail is streamed, not built in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from app.models import AuditEvent
from app.rankings.exports import safe_text

COLUMNS = (
    "Event id",
    "When (UTC, ISO 8601)",
    "User id",
    "User email",
    "Action",
    "Object type",
    "Object id",
    "Outcome",
    "Client address",
    "Request id",
    "Changes (JSON)",
)


def _text(value: str | None) -> str:
    return "" if value is None else safe_text(value)


def row(event: AuditEvent, emails: dict[int, str]) -> list[Any]:
    return [
        event.id,
        event.occurred_at.isoformat(),
        "" if event.actor_id is None else event.actor_id,
        _text(emails.get(event.actor_id) if event.actor_id is not None else None),
        _text(event.action),
        _text(event.entity_type),
        _text(event.entity_id),
        _text(event.outcome),
        _text(event.client_address),
        _text(event.request_id),
        _text(json.dumps(event.changes or {}, ensure_ascii=False, sort_keys=True)),
    ]


def csv_chunks(chunks: Iterable[list[AuditEvent]], emails: dict[int, str]) -> Iterator[bytes]:
    """UTF-8 with a byte-order mark (so a spreadsheet reads it as UTF-8), CRLF line ends: the header, then
    one piece of the file per chunk of events."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buf.getvalue().encode("utf-8-sig")
    for events in chunks:
        buf.seek(0)
        buf.truncate()
        writer.writerows(row(e, emails) for e in events)
        yield buf.getvalue().encode("utf-8")
