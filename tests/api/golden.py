"""Golden outputs of the demo cycle: rankings (JSON, CSV, XLSX), compare, and submissions.

:func:`outputs` builds every file from a freshly loaded demo database through the API; the golden copies in
``fixtures/golden`` were written by the code of an earlier commit (see ``fixtures/golden/README``) and
``test_golden_outputs.py`` checks that today's code gives the same bytes. What legitimately differs
between two runs (the time a file was made) is removed by :func:`normalise` alone.

To write the golden files again from the code of a given commit (never from the code under test)::

    git worktree add /tmp/golden-wt <commit>
    cp tests/api/golden.py /tmp/golden-wt/tests/api/
    cd /tmp/golden-wt && PYTHONPATH=/tmp/golden-wt /path/to/.venv/bin/python -m tests.api.golden <out dir>
"""

from __future__ import annotations

import io
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

API = "/api/v1"
GOLDEN = Path(__file__).parent / "fixtures" / "golden"
AGGREGATIONS = ("mean", "median", "trimmed_mean", "moderated", "calibrated")

# The only things that change from one run to the next: when a file or a submission was made.
_WHEN = re.compile(rb"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_W3CDTF = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")
_CREATED_AT = re.compile(rb'("created_at":)"[^"]*"')


def normalise(name: str, data: bytes) -> bytes:
    """The one place where run-to-run differences are removed before comparing.

    XLSX: the zip container's own timestamps are dropped (members are compared one by one, in order), the
    document properties' created/modified times and the header block's 'Generated at' (or a submission's
    issue time) are blanked. JSON: a submission's ``created_at`` is blanked. Everything else is compared
    byte for byte."""
    if name.endswith(".xlsx"):
        out = []
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                body = zf.read(info)
                if info.filename == "docProps/core.xml":
                    body = _W3CDTF.sub(rb"\1-\2", body)
                body = _WHEN.sub(b"YYYY-MM-DD hh:mm:ss", body)
                out.append(b"== " + info.filename.encode() + b"\n" + body + b"\n")
        return b"".join(out)
    if name.startswith("submission") and name.endswith(".json"):
        return _CREATED_AT.sub(rb'\1"-"', data)
    return data


def load_demo_data(db, settings) -> None:
    from app.demo import load_demo

    with db.unit_of_work() as session:
        load_demo(session, settings)


def _token(client, handle: str) -> dict[str, str]:
    r = client.post(
        f"{API}/auth/token", data={"username": f"{handle}@example.org", "password": "demo-password"}
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def outputs(client) -> dict[str, bytes]:
    """Every golden file, by name, from the demo data already loaded behind ``client``."""
    admin, finance = _token(client, "admin"), _token(client, "finance")
    out: dict[str, bytes] = {}

    def get(name: str, path: str, headers=admin, **params) -> None:
        r = client.get(f"{API}{path}", params=params, headers=headers)
        assert r.status_code == 200, (name, r.status_code, r.text[:500])
        out[name] = r.content

    cycles = client.get(f"{API}/cycles", headers=admin).json()["items"]
    assert [c["name"] for c in cycles] == ["SR21 SE&RR"]
    cid = cycles[0]["id"]
    weightings = client.get(f"{API}/cycles/{cid}/weightings", headers=admin).json()["items"]
    assert [w["name"] for w in weightings] == ["Equal weights", "Digital and consistency first"]
    wids = [w["id"] for w in weightings]
    ranking = f"/cycles/{cid}/ranking"

    # every weighting and aggregation, default options, as JSON, CSV and XLSX
    for n, wid in enumerate(wids):
        for agg in AGGREGATIONS:
            stem = f"ranking-w{n}-{agg}"
            get(f"{stem}.json", ranking, weighting_id=wid, aggregation=agg)
            get(f"{stem}.csv", ranking, weighting_id=wid, aggregation=agg, format="csv")
            get(f"{stem}.xlsx", ranking, weighting_id=wid, aggregation=agg, format="xlsx")
    # the default weighting, CSV asked for by Accept
    get("ranking-default-accept.csv", ranking, headers={**admin, "Accept": "text/csv"})
    # options: quorum, resampling, seed, paging and filters
    get("ranking-w0-mean-below-quorum.json", ranking, weighting_id=wids[0], include_below_quorum="true")
    get(
        "ranking-w1-median-below-quorum-r0.json",
        ranking,
        weighting_id=wids[1],
        aggregation="median",
        include_below_quorum="true",
        resamples=0,
    )
    get("ranking-w1-mean-r0.json", ranking, weighting_id=wids[1], resamples=0)
    get("ranking-w1-mean-r200-seed7.json", ranking, weighting_id=wids[1], resamples=200, seed=7)
    get("ranking-w1-mean-page2.json", ranking, weighting_id=wids[1], limit=10, offset=10)
    get("ranking-w1-mean-filtered.json", ranking, weighting_id=wids[1], capability="Estates", complete="true")
    get("ranking-w1-mean-kind.json", ranking, weighting_id=wids[1], kind="efficiency", limit=5, offset=2)
    get(
        "ranking-w1-mean-below-quorum.xlsx",
        ranking,
        weighting_id=wids[1],
        include_below_quorum="true",
        format="xlsx",
    )
    get(
        "ranking-w1-mean-below-quorum.csv",
        ranking,
        weighting_id=wids[1],
        include_below_quorum="true",
        format="csv",
    )
    get("ranking-w1-mean-as-finance.json", ranking, headers=finance, weighting_id=wids[1])
    get("ranking-w1-mean-as-finance.xlsx", ranking, headers=finance, weighting_id=wids[1], format="xlsx")
    # the two weightings compared
    for agg in ("mean", "median", "moderated"):
        get(f"compare-{agg}.json", f"/cycles/{cid}/ranking/compare", a=wids[0], b=wids[1], aggregation=agg)
    get("compare-mean-k5-reversed.json", f"/cycles/{cid}/ranking/compare", a=wids[1], b=wids[0], k=5)

    # submissions: issued once the cycle is in moderation, one without and one with a selection
    r = client.post(f"{API}/cycles/{cid}/transition", json={"to": "moderation"}, headers=admin)
    assert r.status_code == 200, r.text
    bodies = [
        ("submission-ranking", {"title": "Demo ranking", "weighting_id": wids[1]}),
        (
            "submission-selection",
            {
                "title": "Demo selection",
                "note": "With the budget walk and a selection.",
                "weighting_id": wids[0],
                "aggregation": "median",
                "include_below_quorum": True,
                "selection": {},
            },
        ),
    ]
    for stem, body in bodies:
        r = client.post(f"{API}/cycles/{cid}/submissions", json=body, headers=finance)
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        get(f"{stem}.json", f"/submissions/{sid}")  # as admin: the whole document
        content = json.loads(out[f"{stem}.json"])
        out[f"{stem}.canonical.json"] = json.dumps(
            content["content"], sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")
        out[f"{stem}.sha256"] = content["content_sha256"].encode()
        get(f"{stem}-as-finance.json", f"/submissions/{sid}", headers=finance)
        get(f"{stem}-verify.json", f"/submissions/{sid}/verify")
        get(f"{stem}.csv", f"/submissions/{sid}.csv")
        get(f"{stem}.xlsx", f"/submissions/{sid}.xlsx")
    # the ranking once the cycle is in moderation
    get("ranking-w1-mean-moderation.json", ranking, weighting_id=wids[1])
    return out


def main(target: str) -> None:
    """Write the golden files from the code on sys.path, on a fresh SQLite database."""
    from fastapi.testclient import TestClient

    import app
    from app.main import create_app
    from app.migrate import upgrade
    from tests.conftest import make_settings

    print(f"code: {Path(app.__file__).parent}", file=sys.stderr)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/golden.db"
        upgrade(url)
        application = create_app(make_settings(url))
        load_demo_data(application.state.db, application.state.settings)
        with TestClient(application) as client:
            files = outputs(client)
        application.state.db.dispose()
    dest = Path(target)
    dest.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (dest / name).write_bytes(data)
    print(f"{len(files)} files, {sum(map(len, files.values()))} bytes in {dest}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1])
