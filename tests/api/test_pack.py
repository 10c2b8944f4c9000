"""The board pack: a submission as a PDF typeset from its frozen record, checked against it.

The demo cycle's submission is issued and its pack downloaded once for the module (SQLite); the
endpoint and the page's download run on both databases with a small scored cycle."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader, PdfWriter
from sqlalchemy import select, update

from app.main import create_app
from tests.conftest import IN_CI, make_settings

API = "/api/v1"
ISSUED = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "screenshots" / "pack"


def pounds(pence: int) -> str:
    return f"{Decimal(pence) / 100:,.2f}"


def texts(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def metadata(pdf: bytes) -> dict[str, str]:
    return {k: str(v) for k, v in (PdfReader(io.BytesIO(pdf)).metadata or {}).items()}


@pytest.fixture(scope="module")
def demo(sqlite_template, tmp_path_factory):
    """The demo cycle in moderation with two submissions (different weightings); the first one's pack
    downloaded twice and the second one's once."""
    from app.demo import load_demo
    from app.models import Submission

    path = tmp_path_factory.mktemp("pack") / "serr.db"
    shutil.copyfile(sqlite_template, path)
    url = f"sqlite:///{path}"
    settings = make_settings(url)
    app = create_app(settings)
    with app.state.db.unit_of_work() as session:
        load_demo(session, settings)
    with TestClient(app) as c:

        def token(email: str) -> dict[str, str]:
            r = c.post(f"{API}/auth/token", data={"username": email, "password": "demo-password"})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        admin, finance = token("admin@example.org"), token("finance@example.org")
        assert (
            c.post(f"{API}/cycles/1/transition", json={"to": "moderation"}, headers=admin).status_code == 200
        )
        weightings = c.get(f"{API}/cycles/1/weightings", headers=finance).json()["items"]
        ids = []
        for w in (weightings[1], weightings[0]):
            r = c.post(
                f"{API}/cycles/1/submissions",
                headers=finance,
                json={"title": f"Board pack: {w['name']}", "weighting_id": w["id"], "selection": {}},
            )
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])
        # a fixed issue time, so that the pages saved for review do not change from run to run
        with app.state.db.unit_of_work() as session:
            session.execute(update(Submission).where(Submission.id.in_(ids)).values(created_at=ISSUED))
        sub = c.get(f"{API}/submissions/{ids[0]}", headers=admin).json()
        downloads = [c.get(f"{API}/submissions/{ids[0]}.pdf", headers=finance) for _ in range(2)]
        other = c.get(f"{API}/submissions/{ids[1]}.pdf", headers=finance)
    for r in [*downloads, other]:
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/pdf"
    yield SimpleNamespace(
        url=url,
        sub=sub,
        other_id=ids[1],
        pdf=downloads[0].content,
        again=downloads[1].content,
        other_pdf=other.content,
        texts=texts(downloads[0].content),
    )
    app.state.db.dispose()


def test_every_funded_proposal_shows_its_frozen_reference_score_and_yearly_net(demo):
    content = demo.sub["content"]
    funded = set(content["results"]["selection"]["selected"])
    assert len(funded) >= 10
    nets = {
        p["id"]: [pounds(c - s) for c, s in zip(p["cost"], p["saving"], strict=True)]
        for p in content["inputs"]["proposals"]
    }
    lines = [line for text in demo.texts for line in text.splitlines()]
    pages = {text.split(":", 1)[0]: " ".join(text.split()) for text in demo.texts}
    for it in content["results"]["ranking"]:
        score = f"{it['weighted_score']:.2f}"
        row = [line for line in lines if line.startswith(f"{it['rank']} {it['reference']} ")]
        assert len(row) == 1, it["reference"]
        assert f" {score} " in row[0]
        assert " ".join(nets[it["proposal_id"]]) in row[0]
        assert row[0].endswith(" yes" if it["proposal_id"] in funded else " no")
        if it["proposal_id"] in funded:
            page = pages[it["reference"]]  # the funded proposal's own page starts with its reference
            assert it["title"] in page and f"Weighted score {score}" in page
            years = content["inputs"]["cycle"]["financial_years"]
            for year, net in zip(years, nets[it["proposal_id"]], strict=True):
                assert f"{year} " in page and f" {net}" in page
        else:
            assert it["reference"] not in pages


def test_pages_footers_and_metadata_carry_the_hash(demo):
    digest, n = demo.sub["content_sha256"], len(demo.texts)
    funded = len(demo.sub["content"]["results"]["selection"]["selected"])
    # cover, summary (two pages with the unranked list), ranked list, bars, profile, a page per funded
    # proposal, method
    assert n == 1 + 2 + 1 + 1 + 1 + funded + 1
    for number, text in enumerate(demo.texts, start=1):
        assert f"page {number} of {n}" in text
        assert f"sha256 {digest[:12]}" in text and demo.sub["content"]["inputs"]["cycle"]["name"] in text
    assert demo.texts[0].count(digest) == 1 and "current" in demo.texts[0]
    assert demo.texts[-1].count(digest) == 1
    assert f"serr verify-submission {demo.sub['id']} --pdf FILE" in demo.texts[-1]
    meta = metadata(demo.pdf)
    assert f"content_sha256:{digest}" in meta["/Keywords"] and digest in meta["/Subject"]
    issued = datetime.fromisoformat(demo.sub["created_at"].replace("Z", "+00:00")).astimezone(UTC)
    assert meta["/CreationDate"] == issued.strftime("D:%Y%m%d%H%M%SZ")
    # the summary's per-year figures are the frozen selection's
    selection = demo.sub["content"]["results"]["selection"]
    summary = demo.texts[1]
    for year, spend in selection["spend"].items():
        assert f"{year} " in summary and f"{Decimal(spend):,.2f}" in summary
    assert "not recorded in this submission" in "".join(demo.texts)


def test_two_downloads_are_the_same_document(demo):
    assert demo.pdf == demo.again
    assert texts(demo.again) == demo.texts and metadata(demo.again) == metadata(demo.pdf)
    assert demo.other_pdf != demo.pdf


def test_charts_are_vector_graphics(demo):
    """The web client's SVG charts are drawn into the pages: no raster image anywhere, their labels text."""
    reader = PdfReader(io.BytesIO(demo.pdf))
    for page in reader.pages:
        xobjects = page["/Resources"].get("/XObject") or {}
        assert all(x.get_object().get("/Subtype") != "/Image" for x in xobjects.values())
    chart = demo.texts[4]
    assert "Ranked bars and the budget line" in chart and "budget" in chart
    first = demo.sub["content"]["results"]["ranking"][0]
    assert f"1. {first['reference']} {first['weighted_score']:.1f}" in chart
    assert "rank (5th–95th percentile)" in chart  # the rank-range panel: the submission has intervals


def run_verify(monkeypatch, capsys, url: str, *args: str) -> tuple[int, str, str]:
    from app import cli
    from app.config import get_settings

    monkeypatch.setenv("SERR_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        code = cli.main(["verify-submission", *args])
    finally:
        get_settings.cache_clear()
    out = capsys.readouterr()
    return code, out.out, out.err


def test_verify_submission_accepts_the_pack_and_rejects_others(demo, tmp_path, monkeypatch, capsys):
    from app.models import Submission
    from app.pack.service import build

    sid = str(demo.sub["id"])
    real = tmp_path / "pack.pdf"
    real.write_bytes(demo.pdf)
    code, out, err = run_verify(monkeypatch, capsys, demo.url, sid, "--pdf", str(real))
    assert code == 0 and "board pack of submission" in out, err

    other = tmp_path / "other.pdf"
    other.write_bytes(demo.other_pdf)
    code, _, err = run_verify(monkeypatch, capsys, demo.url, sid, "--pdf", str(other))
    assert code == 1 and "pack of another submission" in err

    # the same hash in metadata and footers, but one frozen figure changed in the tables
    content = json.loads(json.dumps(demo.sub["content"]))
    first = content["results"]["ranking"][0]
    next(p for p in content["inputs"]["proposals"] if p["id"] == first["proposal_id"])["cost"][0] += 100
    doctored = Submission(
        id=demo.sub["id"],
        content=content,
        content_sha256=demo.sub["content_sha256"],
        created_at=datetime.fromisoformat(demo.sub["created_at"].replace("Z", "+00:00")),
    )
    tampered = tmp_path / "tampered.pdf"
    tampered.write_bytes(build(doctored, "someone"))
    code, _, err = run_verify(monkeypatch, capsys, demo.url, sid, "--pdf", str(tampered))
    assert code == 1
    assert err.count("FAILED") == 1
    assert f"{first['reference']}: the ranked list does not show the frozen figures" in err

    # the real pages with another hash written into the metadata
    from app.pack.verify import check_pack

    real_sub = Submission(
        id=demo.sub["id"], content=demo.sub["content"], content_sha256=demo.sub["content_sha256"]
    )
    writer = PdfWriter(clone_from=io.BytesIO(demo.pdf))
    writer.add_metadata({"/Keywords": "content_sha256:" + "0" * 64})
    relabelled = io.BytesIO()
    writer.write(relabelled)
    assert any(
        "metadata carries content_sha256 000000" in p for p in check_pack(real_sub, relabelled.getvalue())
    )

    code, _, err = run_verify(monkeypatch, capsys, demo.url, sid, "--pdf", str(tmp_path / "missing.pdf"))
    assert code == 2 and "cannot read" in err


def test_first_pages_render_for_review(demo, tmp_path):
    """The first pages as PNG in screenshots/pack/, for a reviewer to look at."""
    if shutil.which("pdftoppm") is None:
        if IN_CI:
            pytest.fail("pdftoppm (poppler-utils) is missing: .ci/run installs it")
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    source = tmp_path / "pack.pdf"
    source.write_bytes(demo.pdf)
    funded_page = 7  # the first funded proposal's page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for page, name in (
        (1, "1-cover"),
        (2, "2-summary"),
        (4, "3-ranked-list"),
        (5, "4-chart"),
        (funded_page, "5-funded-proposal"),
        (len(demo.texts), "6-method"),
    ):
        prefix = tmp_path / name
        subprocess.run(
            ["pdftoppm", "-png", "-r", "80", "-singlefile", "-f", str(page), "-l", str(page), source, prefix],
            check=True,
            timeout=60,
        )
        png = prefix.with_suffix(".png")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        shutil.copyfile(png, SCREENSHOTS / f"{name}.png")


def test_pack_of_a_version_1_submission():
    """A document frozen before quorum rules has no budget walk or below-quorum list: the pack says what is
    not recorded and still verifies."""
    from app.models import Submission
    from app.pack.service import build
    from app.pack.verify import check_pack

    frozen = json.loads((Path(__file__).parent / "fixtures" / "submission_v1.json").read_text())
    sub = Submission(
        id=7,
        content=frozen["content"],
        content_sha256=frozen["content_sha256"],
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    pdf = build(sub, "")
    assert check_pack(sub, pdf) == []
    whole = "".join(texts(pdf))
    assert "issued before quorum rules" in whole and "not recorded in this submission" in whole


def test_pdf_endpoint_and_page_download(client, factory, admin, db):
    """On both databases: finance downloads the pack through the API and the submissions page; scorers
    cannot; the download is audited."""
    from app.models import AuditEvent

    cycle = factory.scored_cycle(admin, proposals=3)
    r = client.post(
        f"{API}/cycles/{cycle['id']}/transition", json={"to": "moderation"}, headers=admin.headers
    )
    assert r.status_code == 200, r.text
    finance = factory.user("finance")
    r = client.post(
        f"{API}/cycles/{cycle['id']}/submissions",
        headers=finance.headers,
        json={"title": "Small board pack", "selection": {}},
    )
    assert r.status_code == 201, r.text
    sub = r.json()
    r = client.get(f"{API}/submissions/{sub['id']}.pdf", headers=finance.headers)
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="submission-{sub["id"]}.pdf"'
    assert f"content_sha256:{sub['content_sha256']}" in metadata(r.content)["/Keywords"]
    scorer = factory.user("scorer")
    assert client.get(f"{API}/submissions/{sub['id']}.pdf", headers=scorer.headers).status_code == 403
    assert client.get(f"{API}/submissions/{sub['id']}.docx", headers=finance.headers).status_code == 422
    with db.unit_of_work(write=False) as session:
        formats = session.scalars(
            select(AuditEvent.changes).where(AuditEvent.action == "submission.exported")
        ).all()
    assert [f["format"] for f in formats] == ["pdf"]

    from tests.api.test_web_sessions import sign_in

    sign_in(client, finance.email)
    page = client.get(f"/submissions?cycle_id={cycle['id']}")
    assert f'href="/submissions/{sub["id"]}/download.pdf"' in page.text
    web = client.get(f"/submissions/{sub['id']}/download.pdf")
    assert web.status_code == 200 and web.content == r.content

    op = client.get("/openapi.json").json()["paths"]["/api/v1/submissions/{submission_id}.{fmt}"]["get"]
    assert "application/pdf" in op["responses"]["200"]["content"]
    assert "board pack" in op["summary"] and "verify-submission" in op["description"]


def test_a_long_ranked_list_repeats_its_header_on_every_page(demo):
    """The demo's ranking three times over (new ids and references): the ranked list runs over several
    landscape pages, each starting with the header row, and the pack still verifies."""
    from app.models import Submission
    from app.pack.service import build
    from app.pack.verify import check_pack

    content = json.loads(json.dumps(demo.sub["content"]))
    ranking, proposals = content["results"]["ranking"], content["inputs"]["proposals"]
    by_id = {p["id"]: p for p in proposals}
    for copy in (1, 2):
        for it in list(ranking[: len(ranking)]):
            if it["proposal_id"] >= 1000:
                continue
            pid = it["proposal_id"] + 1000 * copy
            ref = f"{it['reference']}-{copy}"
            ranking.append({**it, "proposal_id": pid, "reference": ref, "rank": it["rank"] + 100 * copy})
            proposals.append({**by_id[it["proposal_id"]], "id": pid, "reference": ref})
    sub = Submission(
        id=demo.sub["id"],
        content=content,
        content_sha256="f" * 64,
        created_at=datetime.fromisoformat(demo.sub["created_at"].replace("Z", "+00:00")),
    )
    pdf = build(sub, "")
    pages = texts(pdf)
    first = next(i for i, t in enumerate(pages) if "Ranked list" in t)
    last = next(i for i, t in enumerate(pages) if "3. Charts" in t)
    assert last - first >= 2
    header = "Rank Reference Title Capability Score Interval Net 2022-23 Net 2023-24 Net 2024-25 Funded"
    for text in pages[first:last]:
        assert header in text.splitlines()[:4]
    assert check_pack(sub, pdf) == []
