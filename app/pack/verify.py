"""Check a board pack in hand against the submission it claims to come from.

A pack passes when the hash in its metadata, on its cover and in every page's footer is the submission's
``content_sha256``, its footers number the pages ``page N of M`` truly, and every row of its ranked list
shows the frozen record's figures (rank, reference, weighted score, rank interval, per-year net, funded)
in order. The rows expected are built by :func:`app.pack.service.table_rows`, the same function that
wrote them.
"""

from __future__ import annotations

import io
import logging
import re

from app.models import Submission
from app.pack.service import table_rows

RANKED_HEADING = "Ranked list"


def _tokens(text: str) -> list[str]:
    return text.split()


def _find(tokens: list[str], wanted: list[str], start: int, end: int) -> int | None:
    """Index just after ``wanted`` found as consecutive tokens in ``tokens[start:end]``, else None."""
    n = len(wanted)
    for i in range(start, max(start, end - n + 1)):
        if tokens[i : i + n] == wanted:
            return i + n
    return None


def _find_in_order(tokens: list[str], wanted: list[str], start: int, end: int) -> int | None:
    """Index just after the last of ``wanted`` found one after another (not necessarily adjacent)."""
    at = start
    for w in wanted:
        hit = _find(tokens, _tokens(w), at, end)
        if hit is None:
            return None
        at = hit
    return at


def _open(data: bytes):
    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # a broken file is reported once, as a problem
    return PdfReader(io.BytesIO(data), strict=True)


def check_pack(sub: Submission, data: bytes) -> list[str]:
    """What is wrong with ``data`` as the board pack of ``sub``: an empty list when nothing is."""
    try:
        reader = _open(data)
        info = {k.lstrip("/"): str(v) for k, v in (reader.metadata or {}).items()}
    except Exception as exc:  # noqa: BLE001 - any unreadable file is reported, not raised
        return [f"the file is not a readable PDF ({exc.__class__.__name__}: {exc})"]
    expected = sub.content_sha256
    keywords = info.get("Keywords", "")
    found = re.search(r"content_sha256:([0-9a-f]{64})", keywords)
    # another hash (or none) settles it: the pages would only be compared with the wrong record
    if found is None:
        return ["the PDF's metadata carries no content_sha256: it is not a board pack"]
    if found.group(1) != expected:
        return [
            f"the PDF's metadata carries content_sha256 {found.group(1)}, but submission {sub.id} has "
            f"{expected}: it is the pack of another submission or of changed content"
        ]
    try:
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # noqa: BLE001
        return [f"the PDF's pages cannot be read ({exc.__class__.__name__}: {exc})"]
    problems: list[str] = []
    if expected not in info.get("Subject", ""):
        problems.append(f"the PDF's subject does not carry submission {sub.id}'s content_sha256")
    if not pages or expected not in "".join(pages[0].split()):
        problems.append("the cover does not show the submission's content_sha256 in full")
    total = len(pages)
    short = expected[:12]
    bad_footers = [
        str(n)
        for n, text in enumerate(pages, start=1)
        if f"page {n} of {total}" not in text or f"sha256 {short}" not in text
    ]
    if bad_footers:
        problems.append(
            f"the footer of page(s) {', '.join(bad_footers[:10])}{' …' if len(bad_footers) > 10 else ''} "
            f"does not read 'page N of {total}' with sha256 {short}"
        )
    problems += _check_ranked_list(sub, pages)
    return problems


def _check_ranked_list(sub: Submission, pages: list[str]) -> list[str]:
    rows = table_rows(sub.content)
    tokens = _tokens("\n".join(pages))
    start = _find(tokens, _tokens(RANKED_HEADING), 0, len(tokens))
    if start is None:
        return ["the PDF has no ranked list"]
    # each row is read between its own reference and the next row's
    starts: list[int] = []
    at = start
    for row in rows:
        hit = _find(tokens, [row["rank"], row["reference"]], at, len(tokens))
        if hit is None:
            return [
                f"the ranked list does not show rank {row['rank']} {row['reference']} where the frozen "
                "record has it"
            ]
        starts.append(hit)
        at = hit
    problems = []
    for k, row in enumerate(rows):
        end = starts[k + 1] if k + 1 < len(rows) else len(tokens)
        if _find_in_order(tokens, row["figures"], starts[k], end) is None:
            problems.append(
                f"{row['reference']}: the ranked list does not show the frozen figures "
                f"({' · '.join(row['figures'])})"
            )
    return problems
