from __future__ import annotations

import pytest
from pydantic import ValidationError

from assistant.interfaces.web_eval import default_out_root
from assistant.settings import Settings


def test_every_setting_reads_its_environment_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("ASSISTANT_PORT", "8123")
    monkeypatch.setenv("ASSISTANT_SENTENCE_VECTORS", "false")
    monkeypatch.setenv("ASSISTANT_EVAL_OUT", str(tmp_path / "runs"))
    settings = Settings()
    assert settings.port == 8123 and settings.sentence_vectors is False and settings.eval_out == tmp_path / "runs"
    assert default_out_root() == tmp_path / "runs"  # read when a run starts


def test_bad_or_blank_values(monkeypatch):
    monkeypatch.setenv("ASSISTANT_PORT", "70000")
    with pytest.raises(ValidationError):
        Settings()
    monkeypatch.delenv("ASSISTANT_PORT")
    monkeypatch.setenv("ASSISTANT_EVAL_OUT", "  ")
    assert Settings().eval_out is None and default_out_root().name in ("out", "kunshan-eval")
