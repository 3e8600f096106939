"""GenTrade settings, read from the environment with development defaults.

Everything runs on embedded defaults (a SQLite file and a file-based Celery broker under the data
directory, a development JWT key pair, Freqtrade's ``user_data`` under the data directory): the
web process and the worker read the same settings, so they share one database, one broker and one
result backend. Set ``DATABASE_URL`` / ``CELERY_BROKER_URL`` to move to
PostgreSQL / Redis / RabbitMQ, and ``JWT_PUBLIC_KEY`` (or ``JWT_PUBLIC_KEY_FILE``) to accept real
Clerk tokens. Secrets are :class:`~pydantic.SecretStr`: printing or logging the settings shows
``**********``, never the value.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

if TYPE_CHECKING:
    from app.util.ft.settings import FtSettings

__all__ = ["ENV_VARS", "Settings", "get_settings"]

Environment = Literal["development", "test", "production"]

#: Environment variable of each setting.
ENV_VARS: dict[str, str] = {
    "environment": "GENTRADE_ENV",
    "data_dir": "GENTRADE_DATA_DIR",
    "database_url": "DATABASE_URL",
    "celery_broker_url": "CELERY_BROKER_URL",
    "celery_result_backend": "CELERY_RESULT_BACKEND",
    "jwt_public_key": "JWT_PUBLIC_KEY",
    "jwt_public_key_file": "JWT_PUBLIC_KEY_FILE",
    "jwt_issuer": "JWT_ISSUER",
    "jwt_audience": "JWT_AUDIENCE",
    "jwt_authorized_parties": "JWT_AUTHORIZED_PARTIES",
    "jwt_leeway_seconds": "JWT_LEEWAY_SECONDS",
    "exchange_name": "EXCHANGE_NAME",
    "exchange_key": "EXCHANGE_KEY",
    "exchange_secret": "EXCHANGE_SECRET",
    "log_level": "LOG_LEVEL",
    "log_json_output": "LOG_JSON_OUTPUT",
    "log_sql": "LOG_SQL",
    "log_sql_slow_ms": "LOG_SQL_SLOW_MS",
}
_LISTS = frozenset({"jwt_audience", "jwt_authorized_parties"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


class Settings(BaseModel):
    """The application's settings (see :data:`ENV_VARS` for the variable of each field).

    Build from the environment with :meth:`from_env` (or :func:`get_settings`, cached); fields left
    unset get the defaults below, paths relative to ``data_dir``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    environment: Environment = "development"
    data_dir: Path = Path("data")
    database_url: SecretStr = SecretStr("")
    celery_broker_url: SecretStr = SecretStr("filesystem://")
    celery_result_backend: SecretStr = SecretStr("")

    jwt_public_key: str | None = None
    jwt_public_key_file: Path | None = None
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()
    jwt_authorized_parties: tuple[str, ...] = ()
    jwt_leeway_seconds: float = 5.0

    exchange_name: str = "binance"
    exchange_key: SecretStr = SecretStr("")
    exchange_secret: SecretStr = SecretStr("")

    log_level: str = "INFO"
    log_json_output: str | None = None
    log_sql: bool = True
    log_sql_slow_ms: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _defaults_under_data_dir(cls, values: Any) -> Any:
        """Fill the defaults that live under ``data_dir``."""
        if not isinstance(values, dict):
            return values
        data_dir = Path(values.get("data_dir") or "data")
        if not _secret_text(values.get("database_url")):
            values["database_url"] = f"sqlite:///{data_dir / 'gentrade.db'}"
        if not _secret_text(values.get("celery_result_backend")):
            broker = _secret_text(values.get("celery_broker_url"))
            if broker.startswith(("redis://", "rediss://")):
                values["celery_result_backend"] = broker  # Redis stores results as well
            else:
                results = (data_dir / "celery" / "results").resolve()
                values["celery_result_backend"] = f"file://{results}"
        return values

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Build the settings from ``environ`` (default ``os.environ``); ``overrides`` win.

        Raises:
            pydantic.ValidationError: A variable holds a value its field cannot take.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for field, var in ENV_VARS.items():
            raw = env.get(var)
            if raw is None or (raw == "" and field not in ("exchange_key", "exchange_secret")):
                continue
            if field in _LISTS:
                values[field] = tuple(p.strip() for p in raw.split(",") if p.strip())
            elif field == "log_sql":
                values[field] = raw.strip().lower() not in _FALSE
            elif field == "jwt_public_key":
                # A PEM in one environment line: literal "\n" sequences stand for newlines.
                values[field] = raw.replace("\\n", "\n")
            else:
                values[field] = raw
        values.update(overrides)
        return cls(**values)

    @property
    def celery_broker_dir(self) -> Path:
        """Folder of the embedded ``filesystem://`` broker."""
        return self.data_dir / "celery" / "broker"

    def ft_settings(self, environ: Mapping[str, str] | None = None) -> FtSettings:
        """The Freqtrade settings: exchange and credentials from these settings, ``user_data``
        under ``data_dir``; the ``FT_*`` variables (see :func:`ft_settings_from_env`) win."""
        from app.util.ft.settings import ft_settings_from_env

        env = os.environ if environ is None else environ
        ft = ft_settings_from_env(env)
        changes: dict[str, Any] = {}
        if "FT_EXCHANGE" not in env:
            changes["exchange"] = self.exchange_name
        if "FT_EXCHANGE_KEY" not in env:
            changes["exchange_key"] = self.exchange_key.get_secret_value()
        if "FT_EXCHANGE_SECRET" not in env:
            changes["exchange_secret"] = self.exchange_secret.get_secret_value()
        if "FT_USER_DATA_DIR" not in env:
            changes["user_data_dir"] = self.data_dir / "user_data"
        return dataclasses.replace(ft, **changes)

    @property
    def database_url_safe(self) -> str:
        """``DATABASE_URL`` with its password hidden, for messages and logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.database_url.get_secret_value()).render_as_string(
                hide_password=True
            )
        except Exception:
            return "<unparsable database url>"

    def logging_options(self) -> dict[str, Any]:
        """Keyword arguments for ``agent_tracing.configure_logging`` from the log settings.

        Only what was set is passed, so the ``AGENT_TRACING_*`` variables still apply otherwise.
        """
        levels = {"app": self.log_level.upper()}
        # Statement lines are DEBUG; aiosqlite's own DEBUG lines repeat raw parameters.
        levels["agent_tracing.sqlalchemy"] = "DEBUG" if self.log_sql else "INFO"
        levels["aiosqlite"] = "INFO"
        options: dict[str, Any] = {"levels": levels}
        if self.log_json_output:
            options["json_output"] = self.log_json_output
        return options


def _secret_text(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value or "")


@functools.cache
def get_settings() -> Settings:
    """Return the settings built from the environment once per process (``cache_clear()`` to
    re-read)."""
    return Settings.from_env()
