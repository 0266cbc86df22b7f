"""Privacy: nothing one client asks may reach another client (issue 9, finding 1)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.http.factory import create_app

VIGNETTE = ("My 22-month-old son Jonah Miller has periorbital bruising, proptosis and a hard belly mass since "
            "Tuesday: could this be neuroblastoma?")
SIMILAR = "What are the signs of neuroblastoma in a toddler with bruising around the eyes and a belly mass?"


def _norm(text: str) -> str:
    return " ".join(text.lower().split()).rstrip("?")


def test_one_clients_question_never_reaches_another_client(small_settings, pipeline):
    app = create_app(small_settings, pipeline=pipeline)
    with TestClient(app) as alice, TestClient(app) as bob:
        first = alice.post("/v1/answer", json={"question": VIGNETTE})
        assert first.status_code == 200
        for _ in range(3):  # asked again and again: still never offered to anyone
            alice.post("/v1/answer", json={"question": VIGNETTE})
        for route, body in (("/v1/answer", {"question": SIMILAR}),
                            ("/v1/chat/completions", {"model": "medcite",
                                                      "messages": [{"role": "user", "content": SIMILAR}]})):
            response = bob.post(route, json=body)
            assert response.status_code == 200, response.text
            text = response.text.lower()
            assert "jonah" not in text, route
            related = (response.json().get("related_questions") if route == "/v1/answer"
                       else response.json()["medcite"]["related_questions"])
            assert related, "the curated bank still offers related questions"
            assert _norm(VIGNETTE) not in {_norm(q) for q in related}
            bank = {_norm(q) for q in pipeline.bank._texts}
            assert all(_norm(q) in bank for q in related), "related questions come from the curated bank only"
