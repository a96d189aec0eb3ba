"""Connection options and credentials of the MongoDB job store."""

from __future__ import annotations

import pytest

from sseflow.settings import SseflowSettings
from sseflow.store import get_job_store
from sseflow.store.jobstore import redact_uri


def test_tls_and_auth_settings_reach_pymongo(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    ca = tmp_path / "ca.pem"
    monkeypatch.setenv("SSEFLOW_DB_USERNAME", "ann")
    monkeypatch.setenv("SSEFLOW_DB_PASSWORD", "s3cret-pw")
    monkeypatch.setenv("SSEFLOW_DB_AUTH_SOURCE", "admin")
    monkeypatch.setenv("SSEFLOW_DB_TLS", "true")
    monkeypatch.setenv("SSEFLOW_DB_TLS_CA_FILE", str(ca))
    monkeypatch.setenv("SSEFLOW_DB_CLIENT_OPTIONS", '{"replicaSet": "rs0"}')
    store = get_job_store(uri="mongodb://db.example.org:27017", db_name="screening")
    expected = {
        "username": "ann",
        "password": "s3cret-pw",
        "authSource": "admin",
        "tls": True,
        "tlsCAFile": str(ca),
        "replicaSet": "rs0",
    }
    for sub in (store.docs_store, *store.additional_stores.values()):
        assert sub.mongoclient_kwargs == expected
        assert sub.database == "screening"
    # explicit arguments win over the environment
    store = get_job_store(uri="mongodb://db.example.org", mongo_client_kwargs={"tls": False})
    assert store.docs_store.mongoclient_kwargs["tls"] is False


def test_password_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSEFLOW_DB_PASSWORD", "s3cret-pw")
    settings = SseflowSettings()
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in settings.model_dump_json()
    assert redact_uri("mongodb://ann:s3cret-pw@h:1/x") == "mongodb://***@h:1/x"
    assert "s3cret-pw" not in redact_uri("error talking to mongodb://ann:s3cret-pw@h:1 (timeout)")


def test_client_options_are_used_on_a_real_server(
    monkeypatch: pytest.MonkeyPatch, mongo_uri: str, mongo_db_name: str
) -> None:
    monkeypatch.setenv("SSEFLOW_DB_CLIENT_OPTIONS", '{"serverSelectionTimeoutMS": 1234}')
    store = get_job_store(uri=mongo_uri, db_name=mongo_db_name)
    store.connect()
    client = store.additional_stores["candidates"]._collection.database.client
    assert client.options.server_selection_timeout == pytest.approx(1.234)
    assert client.admin.command("ping")["ok"] == 1.0
