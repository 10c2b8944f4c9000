from fastapi.testclient import TestClient

from app.errors import PROBLEM_JSON

API = "/api/v1"


def test_problem_json_for_404_405_422(client, admin):
    r = client.get(f"{API}/proposals/999999", headers=admin.headers)
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    assert r.json()["title"] == "Not found" and r.json()["instance"] == f"{API}/proposals/999999"
    r = client.get(f"{API}/nowhere")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM_JSON
    page = client.get("/nowhere")  # outside the API, people get a page
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    r = client.put(f"{API}/cycles", headers=admin.headers)
    assert r.status_code == 405 and r.json()["detail"] == f"PUT is not allowed on {API}/cycles."
    r = client.get(f"{API}/proposals", params={"limit": "many"}, headers=admin.headers)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"]


def test_unexpected_error_hides_internals(app, admin):
    @app.get("/api/v1/boom-for-test")
    def boom():
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/api/v1/boom-for-test")
    assert r.status_code == 500 and r.headers["content-type"] == PROBLEM_JSON
    assert "secret" not in r.text and "Traceback" not in r.text
