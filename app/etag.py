"""ETags and If-Match for optimistic concurrency: the ETag of an entity is its version."""

from __future__ import annotations

from app.errors import PreconditionFailed, PreconditionRequired


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(
    if_match: str | None, current: int, body_version: int | None, *, required: bool = True
) -> None:
    """A stale ``If-Match`` is 412. With neither ``If-Match`` nor a body ``version`` an update is refused
    (428), so no client can overwrite a change it never saw. A stale body version is checked by the service
    (409)."""
    if if_match is None:
        if required and body_version is None:
            raise PreconditionRequired(
                'Send the version you read, as "version" in the body or as an If-Match header with the ETag.'
            )
        return
    tags = [t.strip() for t in if_match.split(",")]
    if "*" in tags:
        return
    wanted = {t.removeprefix("W/").strip('"') for t in tags}
    if str(current) not in wanted:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current ETag {etag(current)}; re-read and retry.",
            current_version=current,
        )
