"""The freqtrade process: started in its own process group, both pipes read as data arrives in the
calling thread, lines handed to the output readers, killed at its deadline."""

from __future__ import annotations

import logging
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from agent_tracing.freqtrade._output import FtRecord, StderrAssembler, StdoutReader, clean_line
from agent_tracing.freqtrade._secrets import SecretScrubber
from agent_tracing.logger import BoundLogger

__all__ = ["IDLE_FLUSH_S", "Output", "emit", "run_process"]

#: A record waits this long for continuation lines (a traceback) before it is relayed.
IDLE_FLUSH_S = 0.2
# A "line" this long without a newline is relayed as it is rather than buffered further.
_MAX_LINE_BYTES = 1 << 20


def emit(
    logger: logging.Logger,
    level: int,
    message: str,
    *,
    event: str,
    data: Mapping[str, Any],
    exception: Mapping[str, Any] | None = None,
) -> None:
    """Log one line with ``event``, ``data`` and a parsed ``exception``; never raises."""
    try:
        # The exception exists only as text in this process: the logger takes it as a mapping.
        BoundLogger(logger).log(
            level, message, event=event, data=data, exc_info=dict(exception) if exception else None
        )
    except Exception:  # pragma: no cover - relaying a line never breaks the command
        pass


class Output:
    """What a command printed: records relayed as they complete, errors and warnings collected."""

    def __init__(self, logger: logging.Logger, scrub: SecretScrubber) -> None:
        self.logger = logger
        self.scrub = scrub
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.lines = 0
        self.stderr = StderrAssembler(self._record)
        self.stdout = StdoutReader(self._text)

    def _record(self, rec: FtRecord) -> None:
        exception = rec.exception()
        message = rec.text()
        if rec.level >= logging.ERROR:
            detail = f" ({exception['type']}: {exception['message']})" if exception else ""
            self.errors.append(message + detail)
        elif rec.level >= logging.WARNING:
            self.warnings.append(message)
        self.lines += 1
        emit(
            self.logger,
            rec.level,
            message,
            event="freqtrade.log",
            data={"logger": rec.logger, "stream": "stderr"},
            exception=exception,
        )

    def _text(self, line: str) -> None:
        self.lines += 1
        emit(
            self.logger,
            logging.INFO,
            line.strip(),
            event="freqtrade.output",
            data={"logger": None, "stream": "stdout"},
        )

    def feed(self, stream: str, raw: bytes) -> None:
        """Take one raw line of ``stream`` (``stdout`` or ``stderr``)."""
        line = self.scrub(clean_line(raw.decode("utf-8", "replace")))
        if stream == "stderr":
            self.stderr.feed(line)
        else:
            self.stdout.feed(line)

    def flush(self) -> None:
        """Relay what is still held back (at the end of the output)."""
        self.stderr.flush()
        self.stdout.flush()


def kill(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not exited within ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


def _pump(
    proc: subprocess.Popen[bytes],
    streams: dict[IO[bytes], str],
    deadline: float | None,
    grace: float,
    out: Output,
) -> bool:
    """Read both pipes until they close; returns whether the deadline passed (and it killed)."""
    timed_out = False
    buffers = dict.fromkeys(streams.values(), b"")
    with selectors.DefaultSelector() as selector:
        for stream, name in streams.items():
            os.set_blocking(stream.fileno(), False)
            selector.register(stream, selectors.EVENT_READ, name)
        while selector.get_map():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                if timed_out:
                    break  # killed, and the pipes still did not close
                timed_out = True
                kill(proc, grace)
                deadline = now + grace + 1.0  # read what the kill left in the pipes
                continue
            wait = IDLE_FLUSH_S if out.stderr.pending else None
            if deadline is not None:
                wait = min(wait if wait is not None else deadline - now, deadline - now)
            events = selector.select(wait)
            if not events:
                out.stderr.flush()  # a quiet moment: do not hold the last record back
                continue
            for key, _ in events:
                name = key.data
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    if buffers[name]:
                        out.feed(name, buffers[name])
                        buffers[name] = b""
                    continue
                *complete, buffers[name] = (buffers[name] + chunk).split(b"\n")
                if len(buffers[name]) > _MAX_LINE_BYTES:
                    complete.append(buffers[name])
                    buffers[name] = b""
                for raw in complete:
                    out.feed(name, raw)
    return timed_out


def run_process(
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: Path | None,
    timeout: float | None,
    grace: float,
    out: Output,
) -> tuple[int, bool]:
    """Run ``argv`` to its end or its deadline; returns ``(exit code, timed out)``.

    Raises:
        OSError: The command could not start.
    """
    deadline = time.monotonic() + timeout if timeout is not None else None
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    timed_out = False
    try:
        streams = {proc.stdout: "stdout", proc.stderr: "stderr"}
        timed_out = _pump(proc, streams, deadline, grace, out)
        if not timed_out:
            # Both pipes closed: the process is exiting (or left a child holding nothing).
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            try:
                proc.wait(remaining)
            except subprocess.TimeoutExpired:
                timed_out = True
    finally:
        if proc.poll() is None:  # the deadline passed, or the caller is being interrupted
            kill(proc, grace)
        for stream in (proc.stdout, proc.stderr):
            stream.close()
        out.flush()
    return proc.wait(), timed_out
