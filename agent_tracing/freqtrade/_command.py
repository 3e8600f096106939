"""Building a freqtrade command: its parameters, the Docker form, and the child's environment."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from agent_tracing import schema as _schema
from agent_tracing.context import current_context

__all__ = [
    "ENV_BACKTEST_ID",
    "ENV_CORRELATION_ID",
    "ENV_PARENT_SPAN_ID",
    "ENV_STRATEGY_ID",
    "ENV_USER_ID",
    "DockerOptions",
    "child_environment",
    "command_parameters",
    "context_from_environ",
]

ENV_CORRELATION_ID = "AGENT_TRACING_CORRELATION_ID"
ENV_PARENT_SPAN_ID = "AGENT_TRACING_PARENT_SPAN_ID"
ENV_USER_ID = "AGENT_TRACING_USER_ID"
ENV_STRATEGY_ID = "AGENT_TRACING_STRATEGY_ID"
ENV_BACKTEST_ID = "AGENT_TRACING_BACKTEST_ID"


_DEFAULT_ENV = {
    "correlation_id": ENV_CORRELATION_ID,
    "user_id": ENV_USER_ID,
    "strategy_id": ENV_STRATEGY_ID,
    "backtest_id": ENV_BACKTEST_ID,
}


def context_variable(key: str) -> str:
    """The variable that carries context field ``key`` to a child: ``AGENT_TRACING_USER_ID``
    for the default schema's fields, ``AGENT_TRACING_CTX_<NAME>`` for a declared one (apart
    from the settings' ``AGENT_TRACING_*`` variables)."""
    return _DEFAULT_ENV.get(key) or f"AGENT_TRACING_CTX_{key.upper()}"


def _context_env(names: Sequence[str] | None = None) -> dict[str, str]:
    """Each carried context field and its variable: the correlation id and the declared fields."""
    keys = ("correlation_id", *(_schema.declared_fields() if names is None else names))
    return {key: context_variable(key) for key in keys}


# Wide lines: the console wraps at its width when stderr is not a terminal, which would split
# one log line in two. No colours: plain text to parse.
OUTPUT_ENV = {
    "COLUMNS": "4000",
    "NO_COLOR": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONIOENCODING": "utf-8",
}

_SINGLE = {
    "-s": "strategy",
    "--strategy": "strategy",
    "--timerange": "timerange",
    "-i": "timeframe",
    "--timeframe": "timeframe",
    "--userdir": "userdir",
    "--user-data-dir": "userdir",
    "-d": "datadir",
    "--datadir": "datadir",
    "--data-dir": "datadir",
    "--backtest-directory": "export_directory",
    "--export-directory": "export_directory",
    "--backtest-filename": "export_filename",
    "--export-filename": "export_filename",
    "--strategy-path": "strategy_path",
    "--cache": "cache",
    "--export": "export",
    "--timeframe-detail": "timeframe_detail",
}
_MULTI = {"-p": "pairs", "--pairs": "pairs", "--strategy-list": "strategy_list"}
_REPEATED = {"-c": "config", "--config": "config"}


def command_parameters(args: Sequence[str]) -> dict[str, Any]:
    """Return the parameters worth logging from freqtrade arguments.

    ``subcommand``, ``strategy``, ``strategy_list``, ``timerange``, ``timeframe``, ``pairs``,
    ``config`` (a list), ``userdir``, ``datadir``, ``strategy_path``, ``export_directory``,
    ``export_filename``, ``cache``, ``export``: only those present.
    """
    params: dict[str, Any] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        flag, eq, inline = arg.partition("=")
        if not arg.startswith("-"):
            params.setdefault("subcommand", arg)
        elif flag in _SINGLE:
            value = inline if eq else (args[i + 1] if i + 1 < len(args) else None)
            params[_SINGLE[flag]] = value
            i += 0 if eq else 1
        elif flag in _REPEATED:
            value = inline if eq else (args[i + 1] if i + 1 < len(args) else None)
            params.setdefault(_REPEATED[flag], []).append(value)
            i += 0 if eq else 1
        elif flag in _MULTI:
            values = [inline] if eq else []
            while not eq and i + 1 < len(args) and not args[i + 1].startswith("-"):
                values.append(args[i + 1])
                i += 1
            params[_MULTI[flag]] = values
        i += 1
    return params


def config_parameters(config: Any) -> dict[str, Any]:
    """Return ``exchange``, ``pairs``, ``timeframe`` and ``stake_currency`` from a parsed config
    (those present), for the parameters the command line does not give."""
    if not isinstance(config, Mapping):
        return {}
    exchange = config.get("exchange")
    found: dict[str, Any] = {}
    if isinstance(exchange, Mapping):
        if isinstance(exchange.get("name"), str):
            found["exchange"] = exchange["name"]
        if isinstance(exchange.get("pair_whitelist"), list):
            found["pairs"] = [str(p) for p in exchange["pair_whitelist"]]
    for key in ("timeframe", "stake_currency"):
        if isinstance(config.get(key), str):
            found[key] = config[key]
    return found


@dataclass(frozen=True)
class DockerOptions:
    """Run freqtrade with ``docker run`` (the production form) instead of the local executable.

    The image's entry point is ``freqtrade``, so the freqtrade arguments follow the image name.
    Environment variables reach the container as ``-e NAME`` (the value comes from the docker
    client's environment), so no value is ever on the command line.

    Args:
        image: The freqtrade image.
        volumes: Host path to container path mounts
            (``{"/srv/user_data": "/freqtrade/user_data"}``).
        network: The container's network; ``host`` lets it reach a loopback exchange stand-in.
        workdir: The container's working directory (relative paths in arguments start there).
        docker: The docker client executable.
        extra_args: More ``docker run`` arguments, before the image name.
    """

    image: str = "freqtradeorg/freqtrade:stable"
    volumes: Mapping[str, str] = field(default_factory=dict)
    network: str | None = "host"
    workdir: str = "/freqtrade"
    docker: str = "docker"
    extra_args: Sequence[str] = ()

    def argv(self, args: Sequence[str], env_names: Sequence[str]) -> list[str]:
        """Return the ``docker run`` command for freqtrade ``args``."""
        argv = [self.docker, "run", "--rm", "-i"]
        if self.network:
            argv += ["--network", self.network]
        for host, container in self.volumes.items():
            argv += ["-v", f"{host}:{container}"]
        for name in env_names:
            argv += ["-e", name]
        return [*argv, *self.extra_args, self.image, *args]

    def to_host(self, path: str) -> Path:
        """Return the host path of a path as the container sees it (unchanged when unmounted)."""
        posix = PurePosixPath(self.workdir, path)
        for host, container in sorted(self.volumes.items(), key=lambda kv: -len(kv[1])):
            try:
                rest = posix.relative_to(container)
            except ValueError:
                continue
            return Path(host, *rest.parts)
        return Path(path)


def tracing_environment(span_id: str | None) -> dict[str, str]:
    """Return the ``AGENT_TRACING_*`` variables that carry the current context to a child."""
    ctx = current_context()
    env = {name: str(ctx[key]) for key, name in _context_env().items() if ctx.get(key) is not None}
    if _schema.declared_fields() != _schema.DEFAULT_CONTEXT_FIELDS:
        # The child logs in this schema too (``configure_logging`` reads the variable).
        env[_schema.ENV_CONTEXT_FIELDS] = ",".join(_schema.declared_fields())
    if span_id:
        env[ENV_PARENT_SPAN_ID] = span_id
    return env


def child_environment(
    extra: Mapping[str, str] | None, span_id: str | None, *, inherit: bool = True
) -> tuple[dict[str, str], list[str]]:
    """Return the child's whole environment and the names set for it (not inherited).

    Args:
        extra: Variables for the command (``FREQTRADE__EXCHANGE__KEY``...).
        span_id: The command span, passed on as ``AGENT_TRACING_PARENT_SPAN_ID``.
        inherit: Start from this process's environment.
    """
    own = {**OUTPUT_ENV, **tracing_environment(span_id), **(extra or {})}
    env = {**(os.environ if inherit else {}), **own}
    return env, sorted(own)


def context_from_environ(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Return the context a parent passed through ``AGENT_TRACING_*`` variables.

    For code running inside the freqtrade process (a strategy) that logs with this package:
    ``with agent_tracing.bind(**context_from_environ()): ...``. The parent's command span is
    bound as ``span_id``, so lines logged there belong to it and spans started there are its
    children.
    """
    env = os.environ if environ is None else environ
    named = _context_env()
    if env.get(_schema.ENV_CONTEXT_FIELDS):
        try:  # the parent's declaration, when this process has not made it its own yet
            named.update(
                _context_env(_schema.parse_context_fields(env[_schema.ENV_CONTEXT_FIELDS]))
            )
        except ValueError:
            pass
    fields: dict[str, Any] = {key: env[name] for key, name in named.items() if env.get(name)}
    if env.get(ENV_PARENT_SPAN_ID):
        fields["span_id"] = env[ENV_PARENT_SPAN_ID]
    return fields
