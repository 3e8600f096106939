"""Settings from the environment: defaults under the data dir, parsing, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import ENV_VARS, Settings


def test_defaults_live_under_the_data_dir(tmp_path: Path) -> None:
    """With no variable set: SQLite and the file result backend under the data dir."""
    settings = Settings.from_env({"GENTRADE_DATA_DIR": str(tmp_path)})
    assert settings.database_url.get_secret_value() == f"sqlite:///{tmp_path / 'gentrade.db'}"
    assert settings.celery_result_backend.get_secret_value() == (
        f"file://{(tmp_path / 'celery' / 'results').resolve()}"
    )
    assert settings.celery_broker_url.get_secret_value() == "filesystem://"
    assert settings.celery_broker_dir == tmp_path / "celery" / "broker"
    assert (settings.environment, settings.jwt_public_key, settings.log_sql) == (
        "development",
        None,
        True,
    )


def test_every_variable_is_read() -> None:
    """Each documented variable reaches its field, lists split on commas, PEM newlines restored."""
    env = {
        "GENTRADE_ENV": "production",
        "GENTRADE_DATA_DIR": "/srv/gentrade",
        "DATABASE_URL": "postgresql+psycopg://app:pw@db/app",
        "CELERY_BROKER_URL": "redis://:redispw@127.0.0.1:6379/0",
        "CELERY_RESULT_BACKEND": "redis://127.0.0.1:6379/1",
        "JWT_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\\nabc\\n-----END PUBLIC KEY-----",
        "JWT_PUBLIC_KEY_FILE": "/keys/clerk.pem",
        "JWT_ISSUER": "https://clerk.example.com",
        "JWT_AUDIENCE": "api, web",
        "JWT_AUTHORIZED_PARTIES": "https://app.example.com",
        "JWT_LEEWAY_SECONDS": "10",
        "EXCHANGE_NAME": "kraken",
        "EXCHANGE_KEY": "key-123",
        "EXCHANGE_SECRET": "secret-456",
        "LOG_LEVEL": "warning",
        "LOG_JSON_OUTPUT": "logs/app.jsonl",
        "LOG_SQL": "off",
        "LOG_SQL_SLOW_MS": "250",
    }
    assert set(env) == set(ENV_VARS.values())
    s = Settings.from_env(env)
    assert (s.environment, s.data_dir, s.jwt_issuer) == (
        "production",
        Path("/srv/gentrade"),
        "https://clerk.example.com",
    )
    assert s.jwt_public_key == "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----"
    assert (s.jwt_audience, s.jwt_authorized_parties) == (
        ("api", "web"),
        ("https://app.example.com",),
    )
    assert (s.jwt_leeway_seconds, s.log_sql, s.log_sql_slow_ms) == (10.0, False, 250.0)
    assert (s.exchange_name, s.exchange_key.get_secret_value()) == ("kraken", "key-123")
    assert s.database_url_safe == "postgresql+psycopg://app:***@db/app"
    assert s.logging_options() == {
        "levels": {"app": "WARNING", "agent_tracing.sqlalchemy": "INFO", "aiosqlite": "INFO"},
        "json_output": "logs/app.jsonl",
    }


def test_secrets_never_print() -> None:
    """repr, str and JSON dumps of the settings show no secret value."""
    s = Settings.from_env(
        {
            "DATABASE_URL": "postgresql://app:dbpw-1@db/app",
            "CELERY_BROKER_URL": "amqp://u:brokerpw-2@mq//",
            "EXCHANGE_KEY": "exkey-3",
            "EXCHANGE_SECRET": "exsecret-4",
        }
    )
    shown = repr(s) + str(s) + s.model_dump_json() + str(s.model_dump())
    for secret in ("dbpw-1", "brokerpw-2", "exkey-3", "exsecret-4"):
        assert secret not in shown


def test_bad_values_and_overrides() -> None:
    """A value a field cannot take is a ValidationError; keyword overrides win over the env."""
    with pytest.raises(ValidationError):
        Settings.from_env({"GENTRADE_ENV": "staging"})
    with pytest.raises(ValidationError):
        Settings.from_env({"JWT_LEEWAY_SECONDS": "soon"})
    assert Settings.from_env({"JWT_ISSUER": "a"}, jwt_issuer="b").jwt_issuer == "b"


def test_a_redis_broker_stores_results_too(tmp_path: Path) -> None:
    """With a Redis broker and no result backend, results go to the same Redis."""
    settings = Settings.from_env(
        {"GENTRADE_DATA_DIR": str(tmp_path), "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2"}
    )
    assert settings.celery_result_backend.get_secret_value() == "redis://127.0.0.1:6379/2"


def test_freqtrade_settings_follow_the_app_settings(tmp_path: Path) -> None:
    """Exchange, keys and user_data come from the app settings; an ``FT_*`` variable wins."""
    settings = Settings.from_env(
        {
            "GENTRADE_DATA_DIR": str(tmp_path),
            "EXCHANGE_NAME": "kraken",
            "EXCHANGE_KEY": "key-1",
            "EXCHANGE_SECRET": "secret-1",
        }
    )
    ft = settings.ft_settings({})
    assert (ft.exchange, ft.exchange_key, ft.exchange_secret, ft.user_data_dir) == (
        "kraken",
        "key-1",
        "secret-1",
        tmp_path / "user_data",
    )
    assert settings.ft_settings({"FT_EXCHANGE": "binance"}).exchange == "binance"
