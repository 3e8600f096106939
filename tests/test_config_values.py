"""configure_logging accepts the same values as arguments and as environment variables."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import agent_tracing as at


@pytest.fixture(autouse=True)
def _shutdown() -> object:
    yield
    at.shutdown_logging()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("64KB", 64 * 1024),
        ("10MB", 10 * 1024**2),
        ("1.5GB", int(1.5 * 1024**3)),
        ("512B", 512),
        (" 2 kb ", 2048),
        ("4096", 4096),
        (4096, 4096),
        ("0", 0),
    ],
)
def test_max_bytes_takes_sizes_as_argument_and_env(
    value: object, expected: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """max_bytes="64KB" works as an argument exactly as AGENT_TRACING_MAX_BYTES=64KB does."""
    out = str(tmp_path / "x.jsonl")
    by_argument = at.configure_logging(
        console=False,
        json_output=out,
        rotate="size",
        max_bytes=value,  # type: ignore[arg-type]
    )
    monkeypatch.setenv("AGENT_TRACING_MAX_BYTES", str(value))
    by_env = at.configure_logging(console=False, json_output=out, rotate="size")
    assert (expected, expected) == (by_argument.max_bytes, by_env.max_bytes)


@pytest.mark.parametrize("value", ["lots", "64XB", "-1KB", "KB", "nan", "infGB", "1e400", True])
def test_garbage_sizes_are_rejected_naming_the_option(
    value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A size that is not one raises ValueError naming max_bytes, both ways."""
    with pytest.raises(ValueError, match="max_bytes"):
        at.configure_logging(console=False, json=False, max_bytes=value)  # type: ignore[arg-type]
    if isinstance(value, str):
        monkeypatch.setenv("AGENT_TRACING_MAX_BYTES", value)
        with pytest.raises(ValueError, match="AGENT_TRACING_MAX_BYTES"):
            at.configure_logging(console=False, json=False)


def test_numbers_as_text_work_as_arguments(monkeypatch: pytest.MonkeyPatch) -> None:
    """backup_count="3", max_string="100", level="10" work as they do in the environment."""
    by_argument = at.configure_logging(
        console=False,
        json=False,
        backup_count="3",  # type: ignore[arg-type]
        max_string="100",  # type: ignore[arg-type]
        level="10",
    )
    monkeypatch.setenv("AGENT_TRACING_BACKUP_COUNT", "3")
    monkeypatch.setenv("AGENT_TRACING_MAX_STRING", "100")
    monkeypatch.setenv("AGENT_TRACING_LEVEL", "10")
    by_env = at.configure_logging(console=False, json=False)
    for settings in (by_argument, by_env):
        assert (
            settings.backup_count,
            settings.limits.max_string,
            settings.level,
        ) == (3, 100, logging.DEBUG)


@pytest.mark.parametrize(
    ("text", "expected"), [("0", False), ("off", False), ("no", False), ("YES", True), ("1", True)]
)
def test_booleans_as_text_work_as_arguments(
    text: str, expected: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """json="off" turns the JSON view off as AGENT_TRACING_JSON=off does."""
    by_argument = at.configure_logging(console=False, json=text)  # type: ignore[arg-type]
    monkeypatch.setenv("AGENT_TRACING_JSON", text)
    by_env = at.configure_logging(console=False)
    assert (expected, expected) == (by_argument.json, by_env.json)


def test_garbage_booleans_are_rejected_naming_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """json="maybe" and AGENT_TRACING_JSON=maybe raise ValueError naming the option."""
    with pytest.raises(ValueError, match="json"):
        at.configure_logging(console=False, json="maybe")  # type: ignore[arg-type]
    monkeypatch.setenv("AGENT_TRACING_JSON", "maybe")
    with pytest.raises(ValueError, match="AGENT_TRACING_JSON"):
        at.configure_logging(console=False)


def test_garbage_numbers_are_rejected_naming_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    """AGENT_TRACING_BACKUP_COUNT=many raises ValueError naming the variable."""
    monkeypatch.setenv("AGENT_TRACING_BACKUP_COUNT", "many")
    with pytest.raises(ValueError, match="AGENT_TRACING_BACKUP_COUNT"):
        at.configure_logging(console=False, json=False)
    with pytest.raises(ValueError, match="backup_count"):
        at.configure_logging(console=False, json=False, backup_count="many")  # type: ignore[arg-type]


def test_levels_and_redact_keys_take_the_environment_text_as_arguments() -> None:
    """levels="app.a=DEBUG" and redact_keys="pin,otp" read as the environment's forms do."""
    settings = at.configure_logging(
        console=False,
        json=False,
        levels="app.a=DEBUG, app.b=ERROR",  # type: ignore[arg-type]
        redact_keys="pin_code, otp",
    )
    assert (
        settings.levels,
        settings.redact_keys,
    ) == ({"app.a": logging.DEBUG, "app.b": logging.ERROR}, ("pin_code", "otp"))


def test_a_size_too_big_for_a_float_is_rejected_naming_the_option() -> None:
    """A 400-digit max_bytes raises ValueError naming max_bytes, not OverflowError."""
    with pytest.raises(ValueError, match="max_bytes"):
        at.configure_logging(console=False, json=False, max_bytes="9" * 400 + "GB")  # type: ignore[arg-type]
