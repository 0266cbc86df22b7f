"""Re-review on change (issue 14.4) with real re-ingests of a tiny corpus: an approved article whose cited passage
changed or vanished goes to needs_re_review at the index swap and is no longer served as approved; one whose
passages are unchanged stays approved and served.

The first test ingests in this process and swaps through ``Admin.swap`` (what every upload, delete and reindex job
ends with); the slow one goes through the admin API (reindex and delete jobs, parsed and ingested in child
processes)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.http.factory import create_app
from app.review.settings import ReviewSettings
from app.settings import Settings
from core.contracts import PENDING_REVIEW_NOTICE

LEE = {"Authorization": "Bearer rk-lee-0001"}
ADMIN = {"Authorization": "Bearer admin-key-0001"}
CORPUS = {
    "gout.md": "# Gout\n\nGout is treated with colchicine or NSAIDs during a flare. Urate-lowering therapy with "
               "allopurinol prevents recurrent attacks. Patients should limit alcohol and purine-rich food.\n",
    "asthma.md": "# Asthma inhalers\n\nAn inhaled corticosteroid controls asthma. A spacer improves delivery of the "
                 "inhaled medicine. Rinse the mouth after each corticosteroid dose.\n",
    "anaemia.txt": "Iron deficiency anaemia\n\nOral iron sulfate is the first treatment for iron deficiency anaemia. "
                   "Take iron on an empty stomach with vitamin C to improve absorption.\n",
}
GOUT_CHANGED = ("# Gout\n\nGout flares are treated with colchicine, an NSAID or a corticosteroid. Urate-lowering therapy "
                "with allopurinol or febuxostat prevents recurrent attacks. Patients should limit alcohol.\n")
GOUT_Q, ASTHMA_Q, ANAEMIA_Q = ("How is gout treated?", "How is asthma controlled with inhalers?",
                               "What is the first treatment for iron deficiency anaemia?")


def _env(root: Path) -> tuple[Settings, TestClient]:
    from app.query.pipeline import AnswerPipeline
    from ingest.pipeline import ingest

    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings()
    settings.paths.data_dir = root / "var"
    settings.paths.index_dir = root / "var" / "index"
    settings.paths.corpus_dir = corpus
    settings.paths.question_bank = root / "no-bank.jsonl"
    settings.security = settings.security.model_copy(update={"admin_keys": ["admin-key-0001"],
                                                             "rate_limit_per_minute": 0, "parse_timeout_s": 60})
    settings.review = ReviewSettings(store_answers="opt_in", reviewer_keys={"dr-lee": "rk-lee-0001"})
    assert ingest([corpus], settings, progress=False).written
    app = create_app(settings, pipeline=AnswerPipeline.from_settings(settings))
    return settings, TestClient(app, raise_server_exceptions=False)


def _kept_and_approved(client: TestClient, question: str) -> dict:
    kept = client.post("/v1/articles", json={"question": question})
    assert kept.status_code == 201, kept.text
    article_id = kept.json()["review"]["article_id"]
    for to, version in (("under_review", 1), ("approved", 2)):
        r = client.post(f"/v1/articles/{article_id}/review", headers=LEE,
                        json={"to": to, "expected_version": version, "note": "checked"})
        assert r.status_code == 200, r.text
    return r.json()


def _served(client: TestClient, question: str) -> dict:
    r = client.post("/v1/answer", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def test_a_reingest_that_changes_or_removes_a_cited_passage_puts_the_article_back_to_review(tmp_path):
    from ingest.pipeline import ingest

    settings, client = _env(tmp_path)
    gout, asthma, anaemia = (_kept_and_approved(client, q) for q in (GOUT_Q, ASTHMA_Q, ANAEMIA_Q))
    assert any(ref["doc_id"].startswith("gout") or "Gout" in ref["title"] for ref in gout["answer"]["references"])
    assert _served(client, GOUT_Q)["review"]["served_from_article"] is True
    old_version = client.app.state.medcite.pipeline.index.path.name

    (settings.paths.corpus_dir / "gout.md").write_text(GOUT_CHANGED, encoding="utf-8")  # the cited passage changes
    (settings.paths.corpus_dir / "asthma.md").unlink()  # the cited passage vanishes
    report = ingest([settings.paths.corpus_dir], settings, progress=False)
    assert (report.updated, report.removed, report.unchanged) == (1, 1, 1)
    client.app.state.admin.swap()  # what upload, delete and reindex jobs end with
    assert client.app.state.medcite.pipeline.index.path.name != old_version

    queue = {q["article"]["id"]: q for q in client.get("/v1/review/queue", headers=LEE).json()}
    assert set(queue) == {gout["id"], asthma["id"]}
    for article in (gout, asthma):
        assert queue[article["id"]]["label"] == "Needs re-review"
        view = client.get(f"/v1/articles/{article['id']}").json()
        assert view["status"] == "needs_re_review" and view["review_line"] == PENDING_REVIEW_NOTICE
        assert view["allowed_next"] == ["under_review", "approved", "changes_requested"]
    notes = {a["id"]: client.get(f"/v1/articles/{a['id']}/history", headers=LEE).json()[-1] for a in (gout, asthma)}
    assert notes[gout["id"]]["reviewer"] == "system" and "(changed)" in notes[gout["id"]]["note"]
    assert "(vanished)" in notes[asthma["id"]]["note"]

    again = _served(client, GOUT_Q)  # no longer served as approved: a fresh answer from the new passage
    assert again["review"] is None and again["review_notice"] == PENDING_REVIEW_NOTICE
    assert "febuxostat" in str(again) or "corticosteroid" in again["bottom_line"]["text"]
    unchanged = _served(client, ANAEMIA_Q)  # its passage did not change: still served, approval kept
    assert unchanged["review"]["served_from_article"] and unchanged["review_notice"].startswith("Approved by dr-lee")
    assert client.get(f"/v1/articles/{anaemia['id']}").json()["status"] == "approved"


@pytest.mark.slow
def test_reindex_and_delete_jobs_recheck_approved_articles(tmp_path):
    settings, client = _env(tmp_path)
    app = client.app
    upload = (b"# Tick bites\n\nRemove an attached tick with fine-tipped tweezers by pulling upward with steady "
              b"pressure. Clean the bite area with alcohol afterwards. Watch for an expanding red rash.\n")
    r = client.post("/v1/documents", headers=ADMIN, files={"file": ("ticks.md", upload, "text/markdown")},
                    data={"title": "Tick bites", "audience": "clinician"})
    assert r.status_code == 202, r.text
    doc_id = r.json()["doc_id"]
    assert app.state.admin.jobs.wait(r.json()["job_id"], timeout=180).status == "done"
    tick = _kept_and_approved(client, "How do I remove an attached tick?")
    gout = _kept_and_approved(client, GOUT_Q)
    assert {ref["doc_id"] for ref in tick["answer"]["references"]} == {doc_id}

    (settings.paths.corpus_dir / "gout.md").write_text(GOUT_CHANGED, encoding="utf-8")
    r = client.post("/v1/reindex", headers=ADMIN)
    job = app.state.admin.jobs.wait(r.json()["job_id"], timeout=180)
    assert job.status == "done" and job.index_swapped
    assert client.get(f"/v1/articles/{gout['id']}", headers=LEE).json()["status"] == "needs_re_review"
    assert client.get(f"/v1/articles/{tick['id']}", headers=LEE).json()["status"] == "approved"

    r = client.delete(f"/v1/documents/{doc_id}", headers=ADMIN)
    assert app.state.admin.jobs.wait(r.json()["job_id"], timeout=180).status == "done"
    view = client.get(f"/v1/articles/{tick['id']}", headers=LEE).json()
    assert view["status"] == "needs_re_review"
    assert "(vanished)" in client.get(f"/v1/articles/{tick['id']}/history", headers=LEE).json()[-1]["note"]
