from app.migrate import head_revision


def test_principles_and_health(client, admin):
    r = client.get("/api/v1/principles", headers=admin.headers)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 12
    assert [p["number"] for p in body["items"]] == list(range(1, 13))
    assert body["items"][2]["key"] == "partnership" and body["items"][2]["text_withheld"] is True
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["migration"] == head_revision(
        str(client.app.state.settings.database_url)
    )
