"""Rankings, exports and submissions of the demo cycle are the same bytes as the golden files written by the
code of an earlier commit (see tests/api/golden.py and fixtures/golden/README): making them faster must not
change them. Only what :func:`tests.api.golden.normalise` removes (when a file was made) may differ."""

from __future__ import annotations

from tests.api.golden import GOLDEN, load_demo_data, normalise, outputs


def _first_difference(a: bytes, b: bytes) -> str:
    at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return f"at byte {at}: golden {a[max(0, at - 60) : at + 60]!r} now {b[max(0, at - 60) : at + 60]!r}"


def test_demo_outputs_are_byte_identical_to_the_golden_files(client, db, settings):
    load_demo_data(db, settings)
    files = outputs(client)
    golden = {p.name: p.read_bytes() for p in GOLDEN.iterdir() if p.name != "README"}
    assert sorted(files) == sorted(golden)
    differ = {}
    for name, data in sorted(files.items()):
        expected, got = normalise(name, golden[name]), normalise(name, data)
        if expected != got:
            differ[name] = _first_difference(expected, got)
    assert not differ, "\n".join(f"{name}: {why}" for name, why in differ.items())


def test_the_golden_comparison_can_fail():
    """The normalisation removes the time a file was made, and nothing else."""
    xlsx = (GOLDEN / "ranking-w1-mean.xlsx").read_bytes()
    assert normalise("ranking-w1-mean.xlsx", xlsx) == normalise("ranking-w1-mean.xlsx", xlsx)
    import io
    import zipfile

    with zipfile.ZipFile(io.BytesIO(xlsx)) as zf:
        members = [(i, zf.read(i)) for i in zf.infolist()]
    changed = io.BytesIO()
    with zipfile.ZipFile(changed, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, body in members:
            # one money cell formatted as a plain two-decimal number instead
            zf.writestr(info.filename, body.replace(b' s="3" ', b' s="2" ', 1))
    assert normalise("x.xlsx", changed.getvalue()) != normalise("x.xlsx", xlsx)
    ranking = (GOLDEN / "ranking-w1-mean.json").read_bytes()
    assert normalise("ranking-w1-mean.json", ranking.replace(b'"rank":1,', b'"rank": 1,')) != normalise(
        "ranking-w1-mean.json", ranking
    )
