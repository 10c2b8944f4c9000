"""The audit trail as a CSV file a spreadsheet opens: a header row, ISO 8601 times (UTC), the changes as
JSON text, and text cells that a spreadsheet would read as a formula escaped by the ranking exports' rule.

Rows are written as they are read, so a download of the whole trail is streamed, not built in memory."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

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


def row(event: Sequence[Any], emails: dict[int, str]) -> list[Any]:
    """One event, a row of the audit service's ``ROW_COLUMNS`` (in that order), as the file's cells."""
    id_, occurred_at, actor_id, action, entity_type, entity_id, outcome, address, request_id, changes = event
    return [
        id_,
        occurred_at.isoformat(),
        "" if actor_id is None else actor_id,
        _text(emails.get(actor_id)) if actor_id is not None else "",
        _text(action),
        _text(entity_type),
        _text(entity_id),
        _text(outcome),
        _text(address),
        _text(request_id),
        _text(json.dumps(changes or {}, ensure_ascii=False, sort_keys=True)),
    ]


def _text(value: str | None) -> str:
    return safe_text(value) if value else ""


def csv_chunks(chunks: Iterable[Sequence[Any]], emails: dict[int, str]) -> Iterator[bytes]:
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
