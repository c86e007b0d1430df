"""The client's configuration, with no server: defaults, environment variables, what is refused."""

from __future__ import annotations

import pytest

from miosa_jupyter import AsyncMiosa, Miosa, MiosaError
from miosa_jupyter._client import DEFAULT_BASE_URL


def test_no_api_key_names_the_env_var_and_miosa_local(monkeypatch):
    monkeypatch.delenv("MIOSA_API_KEY", raising=False)
    with pytest.raises(MiosaError) as info:
        Miosa()
    assert "MIOSA_API_KEY" in str(info.value)
    assert "Miosa.local()" in str(info.value)
    with pytest.raises(MiosaError, match="MIOSA_API_KEY"):
        AsyncMiosa()


def test_default_base_url_is_the_miosa_cloud(monkeypatch):
    monkeypatch.delenv("MIOSA_BASE_URL", raising=False)
    monkeypatch.delenv("MIOSA_TENANT", raising=False)
    with Miosa("key") as client:
        assert client.base_url == DEFAULT_BASE_URL == "https://api.miosa.ai/api/v1"


def test_the_idle_timeout_defaults_to_sixty_seconds_and_none_disables_it():
    with Miosa("key") as client:
        assert client.idle_timeout == 60.0
    with Miosa("key", idle_timeout=None) as client:
        assert client.idle_timeout is None
    with pytest.raises(ValueError, match="idle_timeout"):
        Miosa("key", idle_timeout=0)
