from pathlib import Path

import pytest
from pydantic import ValidationError

from rag_assistant.config import Settings


def test_environment_names_of_the_spec_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VECTORSTORE_BACKEND", "dynamodb")
    monkeypatch.setenv("VECTORSTORE_TABLE_NAME", "my-table")
    monkeypatch.setenv("EMBEDDING_MODEL_NAME", "all-MiniLM-L6-v2")
    monkeypatch.setenv("LLM_PROVIDER", " Extractive ")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("RAG_DATA_DIR", str(tmp_path))
    s = Settings()
    assert (s.vectorstore_backend, s.vectorstore_table_name) == ("dynamodb", "my-table")
    assert (s.embedding_model_name, s.llm_provider, s.log_level) == ("all-MiniLM-L6-v2", "extractive", "DEBUG")
    assert s.store_path == tmp_path / "index.sqlite3"


def test_explicit_arguments_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_TOP_K", "7")
    assert Settings().top_k == 7
    assert Settings(RAG_TOP_K=3).top_k == 3


def test_defaults_are_local_and_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VECTORSTORE_BACKEND", "RAG_DATA_DIR", "LLM_PROVIDER", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    s = Settings()
    assert s.vectorstore_backend == "sqlite"
    assert s.data_dir.name == "rag-assistant"
    assert s.openai_api_key is None


@pytest.mark.parametrize(
    "env",
    [
        {"VECTORSTORE_BACKEND": "postgres"},
        {"RAG_CHUNK_SIZE": "100", "RAG_CHUNK_OVERLAP": "100"},
        {"RAG_TOP_K": "0"},
        {"RAG_CHUNK_SIZE": "lots"},
        # uvicorn and logging know other names or none: `rag serve` died in a traceback.
        {"LOG_LEVEL": "TRACE"},
        {"LOG_LEVEL": "verbose"},
    ],
)
def test_invalid_settings_are_rejected_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str]
) -> None:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValidationError):
        Settings()


def test_secret_is_not_shown_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    s = Settings()
    assert "sk-test" not in repr(s) and "sk-test" not in str(s.model_dump())
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value().startswith("sk-test")


def _settings_variables() -> set[str]:
    from pydantic import AliasChoices

    names: set[str] = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        elif alias:
            names.add(str(alias))
    return names


def _readme_variables() -> set[str]:
    """The first column of the README's Configuration table: `A` or `A` / `B` per row."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):]
    section = section[: section.index("\n## ", 1)]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


def test_the_readme_table_lists_every_variable_and_only_those() -> None:
    readme, settings = _readme_variables(), _settings_variables()
    assert readme, "the README's Configuration table was not found"
    assert settings - readme == set(), "variables missing from the README table"
    assert readme - settings == set(), "README rows for variables Settings does not read"
