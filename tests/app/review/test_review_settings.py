"""Review settings (env overrides, reviewer keys hidden and parsed, checks), reviewer identification, the
contract constants, and the package's import boundary (no FastAPI, nothing of app/ but app.query.schemas)."""

from __future__ import annotations

import ast
import doctest
import importlib
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.review import ReviewService
from core import contracts
from app.review.settings import ReviewSettings, parse_reviewer_keys
from app.settings import Settings
REPO = Path(__file__).resolve().parents[3]
PACKAGE = REPO / "app" / "review"


def test_defaults_store_nothing_and_use_the_sqlite_file(tmp_path):
    s = Settings(paths={"data_dir": tmp_path})
    assert (s.review.store_answers, s.review.database_url, s.review.retention_days) == ("off", None, 30)
    assert s.review.max_unreviewed == 10000
    assert s.review.match_similarity == 0.95 and s.review.reviewer_keys == {}
    svc = ReviewService(s)
    assert svc.store.where == str(tmp_path.absolute() / "review.db") and svc.store.dialect == "sqlite"


def test_env_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDCITE_REVIEWER_KEYS", "Dr Lee:k-lee-0001, dr-osei:k:osei:0002")
    monkeypatch.setenv("MEDCITE_REVIEW__STORE_ANSWERS", "opt_in")
    monkeypatch.setenv("MEDCITE_REVIEW__MATCH_SIMILARITY", "0.9")
    monkeypatch.setenv("MEDCITE_REVIEW__RETENTION_DAYS", "45")
    monkeypatch.setenv("MEDCITE_REVIEW__DATABASE_URL", f"sqlite:///{tmp_path}/r.db")
    s = Settings()
    assert s.review.reviewer_keys == {"Dr Lee": "k-lee-0001", "dr-osei": "k:osei:0002"}
    assert (s.review.store_answers, s.review.match_similarity, s.review.retention_days) == ("opt_in", 0.9, 45)
    monkeypatch.setenv("MEDCITE_REVIEW__RETENTION_DAYS", "never")
    assert Settings().review.retention_days is None
    monkeypatch.setenv("MEDCITE_REVIEW__RETENTION_DAYS", "45")
    assert s.review.database_url == f"sqlite:///{tmp_path}/r.db"
    svc = ReviewService(s)
    assert svc.reviewer_for_key("k:osei:0002") == "dr-osei"
    assert svc.reviewer_for_key("k-lee-0001") == "Dr Lee"
    for wrong in ("k-lee-000", "k-lee-00011", "", None, "Dr Lee", "dr-osei:k:osei:0002"):
        assert svc.reviewer_for_key(wrong) is None


def test_keys_and_urls_stay_out_of_reprs(monkeypatch):
    monkeypatch.setenv("MEDCITE_REVIEWER_KEYS", "dr-lee:sekret-key-1")
    s = Settings(review={"database_url": "postgresql+psycopg://u:pg-password@h/x"})
    for text in (repr(s), str(s), repr(s.review)):
        assert "sekret-key-1" not in text and "pg-password" not in text


@pytest.mark.parametrize("value, message", [
    ("dr-lee", "entry 1 is not 'name:key'"),
    ("a:k1,b", "entry 2 is not 'name:key'"),
    (":k1", "empty name"),
    ("a:", "empty key"),
    ("a:k1,a:k2", "listed twice"),
])
def test_malformed_reviewer_keys_are_refused(monkeypatch, value, message):
    monkeypatch.setenv("MEDCITE_REVIEWER_KEYS", value)
    with pytest.raises(ValueError, match=f"MEDCITE_REVIEWER_KEYS: .*{message}"):
        Settings()
    with pytest.raises(ValueError, match=message):
        parse_reviewer_keys(value)


def test_review_settings_are_checked():
    with pytest.raises(ValidationError, match="reserved"):
        ReviewSettings(reviewer_keys={"system": "k-sys-1"})
    with pytest.raises(ValidationError, match="share one key"):
        ReviewSettings(reviewer_keys={"a": "same", "b": "same"})
    with pytest.raises(ValidationError):
        ReviewSettings(store_answers="sometimes")
    with pytest.raises(ValidationError):
        ReviewSettings(match_similarity=1.5)
    with pytest.raises(ValidationError):
        ReviewSettings(retention_days=0)
    with pytest.raises(ValidationError):
        Settings(review={"colour": "blue"})  # extra="forbid"
    with pytest.raises(ValidationError, match="also an admin key"):
        Settings(security={"admin_keys": ["k1"]}, review={"reviewer_keys": {"dr-lee": "k1"}})
    assert ReviewSettings(reviewer_keys="a:k1,b:k2").reviewer_keys == {"a": "k1", "b": "k2"}


def test_review_contract_constants():
    assert "pending human review" in contracts.PENDING_REVIEW_NOTICE
    assert "exercise caution" in contracts.PENDING_REVIEW_NOTICE
    approved = contracts.APPROVED_TEMPLATE.format(reviewer="Dr Lee", date="2026-03-01")
    assert approved == "Approved by Dr Lee on 2026-03-01"
    assert list(contracts.REVIEW_STATUS_LABELS) == ["submitted", "under_review", "approved", "changes_requested",
                                                    "needs_re_review"]


@pytest.mark.parametrize("name", ["app.review.content", "app.review.errors", "app.review.keys", "app.review.models",
                                  "app.review.published", "app.review.workflow", "index.settings"])
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_the_package_imports_only_app_schemas_from_app():
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                top = name.split(".")[0]
                assert top != "fastapi" and top != "starlette", f"{path}: imports {name}"
                if top == "app":
                    assert name in ("app.query.schemas", "app.settings") or name.startswith("app.review"), \
                        f"{path}: imports {name}"
    code = ("import sys, app.review; bad = sorted(m for m in sys.modules if m.split('.')[0] in ('fastapi', "
            "'starlette', 'uvicorn') or (m.startswith('app.') and not m.startswith('app.review') and m not in "
            "('app.query', 'app.query.schemas', 'app.query.escaping'))); print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # app.query.escaping comes with app.query.schemas
