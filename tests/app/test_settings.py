"""Settings: defaults, env overrides with the MEDCITE_ prefix, presets, unknown fields refused, descriptions."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from app.settings import PRESETS, Settings, load_settings
def test_env_overrides_nested_fields(monkeypatch):
    monkeypatch.setenv("MEDCITE_RETRIEVAL__RRF_K", "30")
    monkeypatch.setenv("MEDCITE_PATHS__INDEX_DIR", "/tmp/somewhere")
    s = Settings()
    assert s.retrieval.rrf_k == 30
    assert str(s.paths.index_dir) == "/tmp/somewhere"


def test_preset_applies_under_explicit_values(monkeypatch):
    monkeypatch.setenv("MEDCITE_PRESET", "fast")
    s = load_settings()
    assert s.retrieval.candidates == PRESETS["fast"]["retrieval"]["candidates"]
    monkeypatch.setenv("MEDCITE_RETRIEVAL__CANDIDATES", "77")
    assert load_settings().retrieval.candidates == 77


def test_unknown_preset_and_unknown_fields_are_refused():
    with pytest.raises(ValueError, match="unknown preset"):
        Settings.from_preset("turbo")
    with pytest.raises(ValidationError):
        Settings(retrieval={"rrf_kk": 3})
    with pytest.raises(ValidationError):
        Settings(colour="blue")


def test_every_field_has_a_description():
    def walk(model: type[BaseModel], prefix: str = ""):
        for name, field in model.model_fields.items():
            assert field.description, f"{prefix}{name} has no description"
            ann = field.annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                walk(ann, f"{prefix}{name}.")
    walk(Settings)
