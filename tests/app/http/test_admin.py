"""Admin API end to end over a tiny real index: upload -> background job -> live swap, delete, reject bad files.

Each job parses in a child process and ingests in another (loads the model: ~5-10 s), so these tests are slow.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings
pytestmark = pytest.mark.slow
KEY = {"Authorization": "Bearer test-admin-key"}
CORPUS = {
    "gout.md": "# Gout\n\nGout is treated with colchicine or NSAIDs during a flare. Urate-lowering therapy with "
               "allopurinol prevents recurrent attacks. Patients should limit alcohol and purine-rich food.\n",
    "asthma.md": "# Asthma inhalers\n\nAn inhaled corticosteroid controls asthma. A spacer improves delivery of the "
                 "inhaled medicine. Rinse the mouth after each corticosteroid dose.\n",
    "anaemia.txt": "Iron deficiency anaemia\n\nOral iron sulfate is the first treatment for iron deficiency anaemia. "
                   "Take iron on an empty stomach with vitamin C to improve absorption.\n",
}
UPLOAD = (b"# Tick bites\n\nRemove an attached tick with fine-tipped tweezers by pulling upward with steady pressure. "
          b"Clean the bite area with alcohol afterwards. Watch for an expanding red rash over the next month.\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory):
    from app.http.factory import create_app
    from app.query.pipeline import AnswerPipeline
    from ingest.pipeline import ingest

    root = tmp_path_factory.mktemp("admin")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in CORPUS.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings()
    settings.paths.data_dir = root / "var"
    settings.paths.index_dir = root / "var" / "index"
    settings.paths.corpus_dir = corpus
    settings.paths.question_bank = root / "no-bank.jsonl"
    settings.security = settings.security.model_copy(update={"admin_keys": ["test-admin-key"],
                                                             "rate_limit_per_minute": 0, "parse_timeout_s": 60})
    report = ingest([corpus], settings, progress=False)
    assert report.written and report.documents == 3
    app = create_app(settings, pipeline=AnswerPipeline.from_settings(settings))
    return settings, app, TestClient(app, raise_server_exceptions=False)


def _wait(app, job_id: str):
    job = app.state.admin.jobs.wait(job_id, timeout=180)
    assert job is not None and job.status in ("done", "failed"), job
    return job


def _search_top_doc(client: TestClient, query: str) -> str:
    r = client.post("/v1/search", json={"query": query, "top_k": 1})
    assert r.status_code == 200, r.text
    return r.json()["passages"][0]["doc_id"]


def test_upload_swaps_index_live_without_failed_queries(env):
    settings, app, client = env
    old_pipeline = app.state.medcite.pipeline
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        with TestClient(app, raise_server_exceptions=False) as c:
            while not stop.is_set():
                statuses.append(c.post("/v1/search", json={"query": "tick bite rash", "top_k": 3}).status_code)

    worker = threading.Thread(target=hammer)
    worker.start()
    try:
        r = client.post("/v1/documents", headers=KEY,
                        files={"file": ("../../etc/evil name.md", UPLOAD, "text/markdown")},
                        data={"title": "Tick bite first aid", "issuer": "Test Health Agency", "year": "2023",
                              "type": "Patient information", "audience": "patient"})
        assert r.status_code == 202, r.text
        accepted = r.json()
        job = _wait(app, accepted["job_id"])
    finally:
        stop.set()
        worker.join()
    assert job.status == "done" and job.index_swapped and not job.errors, job
    assert job.report["new"] == 1 and job.report["unchanged"] == 3
    assert statuses and set(statuses) == {200}, f"{len(statuses)} queries during the job: {set(statuses)}"
    assert app.state.medcite.pipeline is not old_pipeline
    # stored by content hash, never by the client's name; metadata applied
    uploads = settings.paths.data_dir / "uploads"
    assert (uploads / f"{accepted['sha256']}.md").read_bytes() == UPLOAD
    assert not list(settings.paths.data_dir.rglob("evil*"))
    assert _search_top_doc(client, "remove a tick with tweezers") == accepted["doc_id"]
    docs = client.get("/v1/documents", params={"q": "tick"}).json()["documents"]
    assert docs[0]["issuer"] == "Test Health Agency" and docs[0]["year"] == 2023
    status = client.get(f"/v1/jobs/{accepted['job_id']}", headers=KEY).json()
    assert status["status"] == "done" and status["doc_id"] == accepted["doc_id"]

    # delete it again: the bundled corpus stays, the upload is gone from disk and index
    r = client.delete(f"/v1/documents/{accepted['doc_id']}", headers=KEY)
    assert r.status_code == 202
    job = _wait(app, r.json()["job_id"])
    assert job.status == "done" and job.report["removed"] == 1, job
    assert not (uploads / f"{accepted['sha256']}.md").exists()
    assert client.get("/v1/documents").json()["total"] == 3


def test_bad_upload_fails_job_with_reason_and_leaves_index(env):
    settings, app, client = env
    before = app.state.medcite.pipeline
    r = client.post("/v1/documents", headers=KEY, files={"file": ("scan.pdf", b"\x00\x01binary" * 100, "application/pdf")})
    assert r.status_code == 202
    job = _wait(app, r.json()["job_id"])
    assert job.status == "failed" and job.errors and job.errors[0].file == "scan.pdf"
    assert "binary" in job.errors[0].reason or "PDF" in job.errors[0].reason
    assert app.state.medcite.pipeline is before
    assert not list((settings.paths.data_dir / "uploads" / ".staging").iterdir())


def test_delete_rules_and_unsupported_types(env):
    _, _, client = env
    r = client.delete("/v1/documents/gout", headers=KEY)
    assert r.status_code == 409 and "bundled" in r.json()["error"]["message"]
    assert client.delete("/v1/documents/nope", headers=KEY).status_code == 404
    r = client.post("/v1/documents", headers=KEY, files={"file": ("a.docx", b"PK\x03\x04...", "application/zip")})
    assert r.status_code == 415
    r = client.post("/v1/documents", headers=KEY, files={"file": ("a.txt.gz", b"\x1f\x8b\x08...", "text/plain")})
    assert r.status_code == 415 and "compressed" in r.json()["error"]["message"]
    r = client.post("/v1/documents", headers=KEY, files={"file": ("a.txt", b"", "text/plain")})
    assert r.status_code == 400
    r = client.post("/v1/documents", headers=KEY, files={"file": ("a.txt", b"text", "text/plain")},
                    data={"year": "1200"})
    assert r.status_code == 422


def test_reindex_job_without_changes(env):
    _, app, client = env
    r = client.post("/v1/reindex", headers=KEY)
    job = _wait(app, r.json()["job_id"])
    assert job.status == "done" and job.report["written"] is False and not job.index_swapped
