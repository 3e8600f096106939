"""Run a freqtrade command as a ``freqtrade.command`` span, relaying its output as it arrives."""

from __future__ import annotations

import logging
import shlex
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import freqtrade

from agent_tracing.freqtrade._command import (
    DockerOptions,
    child_environment,
    command_parameters,
    config_parameters,
)
from agent_tracing.freqtrade._output import parse_tables
from agent_tracing.freqtrade._process import Output, emit, run_process
from agent_tracing.freqtrade._results import find_output_files, read_summary
from agent_tracing.freqtrade._secrets import SecretScrubber, collect_secrets, load_config
from agent_tracing.spans import Span, new_span_id

__all__ = ["FreqtradeError", "FreqtradeResult", "FreqtradeRunner", "run_freqtrade"]

LOGGER = "agent_tracing.freqtrade"
OUTPUT_LOGGER = "agent_tracing.freqtrade.output"
_RESULT_SUBCOMMANDS = frozenset({"backtesting"})


class FreqtradeError(RuntimeError):
    """A freqtrade command failed (raised by :meth:`FreqtradeResult.check`)."""

    def __init__(self, result: FreqtradeResult) -> None:
        first = result.errors[0] if result.errors else f"exit code {result.exit_code}"
        super().__init__(
            f"freqtrade {result.parameters.get('subcommand', '')} {result.status}: {first}"
        )
        self.result = result


@dataclass
class FreqtradeResult:
    """What a freqtrade command did. Every text in it is already scrubbed of secrets.

    Attributes:
        ok: Exit code 0, no ERROR or CRITICAL line, no timeout.
        status: ``ok``, ``error`` or ``timeout``.
        exit_code: The process's exit code (negative: killed by that signal; ``None``: never
            started).
        duration_ms: Wall time of the command.
        command: The command line as logged.
        parameters: Strategy, timerange, timeframe, pairs, config, user_data... as given.
        errors: Messages of ERROR/CRITICAL lines (and why the command could not run).
        warnings: Messages of WARNING lines.
        output_files: ``last_result``, ``result`` and ``meta`` paths written by a backtest.
        summary: ``{strategy: {total_trades, profit_total, ...}}`` read from the result file.
        tables: The result tables printed on stdout, ``{title: [header, row, ...]}``.
        timed_out: The command ran past its timeout and was killed.
        lines: Log records relayed from the command.
        span_id: The ``freqtrade.command`` span.
    """

    ok: bool
    status: str
    exit_code: int | None
    duration_ms: float
    command: list[str]
    parameters: dict[str, Any]
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    output_files: dict[str, str] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    tables: dict[str, list[list[str]]] = field(default_factory=dict)
    timed_out: bool = False
    lines: int = 0
    span_id: str | None = None

    def check(self) -> FreqtradeResult:
        """Return the result when it is ok, else raise :class:`FreqtradeError`."""
        if not self.ok:
            raise FreqtradeError(self)
        return self

    def log_data(self) -> dict[str, Any]:
        """The end event's ``data``."""
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "errors": self.errors,
            "warnings": self.warnings,
            "output_files": self.output_files,
            "summary": self.summary,
            "tables": self.tables,
            "lines": self.lines,
        }


def default_executable() -> list[str]:
    """The ``freqtrade`` beside this interpreter, else on ``PATH``, else ``python -m freqtrade``."""
    beside = Path(sys.executable).with_name("freqtrade")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("freqtrade")
    return [found] if found else [sys.executable, "-m", "freqtrade"]


class FreqtradeRunner:
    """Runs freqtrade commands as logged ``freqtrade.command`` spans (see :meth:`run`).

    Args:
        executable: The freqtrade command (default :func:`default_executable`).
        docker: Run with ``docker run`` instead (see :class:`DockerOptions`).
        env: Variables for every command (e.g. ``FREQTRADE__EXCHANGE__SECRET``); their values are
            secrets to scrub when their names say so.
        inherit_env: Start the child's environment from this process's.
        timeout: Seconds before a command is killed (``None``: no limit).
        kill_grace: Seconds between SIGTERM and SIGKILL when killing.
        cwd: Working directory of the command.
        secrets: More values that must never appear in a line.
        fail_on_error_lines: An ERROR/CRITICAL line makes the command fail even with exit code 0
            (freqtrade exits 0 after a configuration error).
        logger: Logger of the span events.
        output_logger: Logger of the relayed freqtrade lines.
    """

    def __init__(
        self,
        *,
        executable: str | Sequence[str] | None = None,
        docker: DockerOptions | None = None,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        timeout: float | None = None,
        kill_grace: float = 3.0,
        cwd: str | Path | None = None,
        secrets: Iterable[str] = (),
        fail_on_error_lines: bool = True,
        logger: str = LOGGER,
        output_logger: str = OUTPUT_LOGGER,
    ) -> None:
        if isinstance(executable, str):
            executable = [executable]
        self.executable = list(executable) if executable is not None else default_executable()
        self.docker = docker
        self.env = dict(env or {})
        self.inherit_env = inherit_env
        self.timeout = timeout
        self.kill_grace = kill_grace
        self.cwd = Path(cwd) if cwd is not None else None
        self.secrets = tuple(secrets)
        self.fail_on_error_lines = fail_on_error_lines
        self.logger = logging.getLogger(logger)
        self.output_logger = logging.getLogger(output_logger)

    def _host_path(self, path: str, cwd: Path | None) -> Path:
        if self.docker is not None:
            return self.docker.to_host(path)
        candidate = Path(path)
        return candidate if candidate.is_absolute() or cwd is None else cwd / candidate

    def run(
        self,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
        cwd: str | Path | None = None,
        secrets: Iterable[str] = (),
    ) -> FreqtradeResult:
        """Run ``freqtrade <args>`` and return what it did; never raises for a failed command.

        Logs ``freqtrade.command.start`` (command line and parameters, secrets scrubbed), each
        output line as it arrives (``freqtrade.log`` at freqtrade's level, ``freqtrade.output``
        for stdout text), then ``freqtrade.command.end`` with the result.

        Args:
            args: Freqtrade's arguments, starting with the subcommand.
            env: Variables for this command, on top of the runner's.
            timeout: Seconds before the command is killed (default: the runner's).
            cwd: Working directory (default: the runner's).
            secrets: More values that must never appear in a line.
        """
        args = [str(a) for a in args]
        workdir = Path(cwd) if cwd is not None else self.cwd
        limit = timeout if timeout is not None else self.timeout
        params = command_parameters(args)
        subcommand = str(params.get("subcommand") or "")
        span_id = new_span_id()
        child_env, env_names = child_environment(
            {**self.env, **(env or {})}, span_id, inherit=self.inherit_env
        )
        config_paths = [self._host_path(c, workdir) for c in params.get("config", []) if c]
        from_config: dict[str, Any] = {}
        for path in config_paths:  # freqtrade merges its config files, the later ones winning
            from_config.update(config_parameters(load_config(path)[1]))
        for key, value in from_config.items():  # the command line wins over the config
            params.setdefault(key, value)
        scrub = SecretScrubber(
            collect_secrets(
                args=args,
                env=child_env,
                config_paths=config_paths,
                extra=(*self.secrets, *secrets),
            )
        )
        argv = self.docker.argv(args, env_names) if self.docker else [*self.executable, *args]
        shown = scrub.args(argv)
        shown_params = {k: _scrub_value(scrub, v) for k, v in params.items()}
        span = Span(
            f"freqtrade {subcommand}".strip(),
            kind="freqtrade.command",
            logger=self.logger,
            span_id=span_id,
            data={
                "command": shlex.join(shown),
                "parameters": shown_params,
                "mode": "docker" if self.docker else "local",
                "freqtrade_version": freqtrade.__version__,
                "env": env_names,
                "cwd": str(workdir) if workdir else None,
                "timeout_s": limit,
            },
        )
        span.start()
        started_wall = time.time()
        state = Output(self.output_logger, scrub)
        exit_code: int | None = None
        timed_out = False
        try:
            exit_code, timed_out = run_process(
                argv, env=child_env, cwd=workdir, timeout=limit, grace=self.kill_grace, out=state
            )
        except OSError as exc:
            state.errors.append(scrub(f"could not start freqtrade: {exc}"))
        except BaseException as exc:  # interrupted: the span still ends, and unbinds
            span.finish(exc)
            raise
        output_files: dict[str, str] = {}
        summary: dict[str, dict[str, Any]] = {}
        if subcommand in _RESULT_SUBCOMMANDS and exit_code == 0:
            output_files, summary = self._results(params, workdir, started_wall, state)
        tables = parse_tables(state.stdout.lines) if state.stdout.lines else {}
        failed = exit_code != 0 or (self.fail_on_error_lines and bool(state.errors))
        status = "timeout" if timed_out else ("error" if failed else "ok")
        result = FreqtradeResult(
            ok=status == "ok",
            status=status,
            exit_code=exit_code,
            duration_ms=span.duration_ms,
            command=shown,
            parameters=shown_params,
            errors=state.errors,
            warnings=state.warnings,
            output_files=output_files,
            summary=summary,
            tables=tables,
            timed_out=timed_out,
            lines=state.lines,
            span_id=span_id,
        )
        span.finish(
            status=status,
            level=logging.INFO if result.ok else logging.ERROR,
            message=_end_message(span.name, result, limit),
            data=result.log_data(),
        )
        return result

    def _results(
        self, params: Mapping[str, Any], cwd: Path | None, since: float, state: Output
    ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
        directory = params.get("export_directory")
        if not directory:
            directory = str(Path(params.get("userdir") or "user_data", "backtest_results"))
        files = find_output_files(self._host_path(directory, cwd), since)
        if "result" not in files:
            return files, {}
        try:
            return files, read_summary(Path(files["result"]))
        except Exception as exc:  # a result we cannot read is a warning, not a failed command
            message = state.scrub(f"could not read the backtest result: {exc!r}")
            state.warnings.append(message)
            emit(
                self.logger,
                logging.WARNING,
                message,
                event="freqtrade.result.unreadable",
                data={"path": files["result"]},
            )
            return files, {}


def _scrub_value(scrub: SecretScrubber, value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, list):
        return [scrub(v) if isinstance(v, str) else v for v in value]
    return value


def _end_message(name: str, result: FreqtradeResult, timeout: float | None) -> str:
    if result.timed_out:
        return f"{name} timed out after {timeout} s and was killed"
    if result.ok:
        return f"{name} finished"
    errors = len(result.errors)
    return f"{name} failed (exit code {result.exit_code}, {errors} error line{'s' * (errors != 1)})"


def run_freqtrade(args: Sequence[str], **options: Any) -> FreqtradeResult:
    """Run one freqtrade command: ``FreqtradeRunner(**options).run(args)``.

    ``env``, ``timeout``, ``cwd`` and ``secrets`` may be given here too.
    """
    per_call = {k: options.pop(k) for k in ("env", "timeout", "cwd", "secrets") if k in options}
    return FreqtradeRunner(**options).run(args, **per_call)
