"""``scripts/install-system-deps.sh`` (``make system-deps``): apt only when it cannot prompt.

The script runs against stand-ins for ``id``, ``sudo``, ``apt-get`` and ``apt-cache`` that record
what they were asked to do, on a PATH where nothing else is installed.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.viewer import chromium

SCRIPT = ROOT / "scripts" / "install-system-deps.sh"

# Each stand-in appends its command line to $CALLS; apt-get also the DEBIAN_FRONTEND it saw.
FAKES = {
    "id": 'echo "$FAKE_UID"',
    "sudo": (
        'echo "sudo $*" >> "$CALLS"\n'
        '[ "$1" = -n ] || { echo "sudo: a password is required" >&2; exit 1; }\n'
        'shift; [ "$FAKE_SUDO_OK" = 1 ] || exit 1\n[ "$1" = true ] && exit 0\nexec "$@"'
    ),
    "apt-get": (
        'echo "apt-get $* frontend=${DEBIAN_FRONTEND:-}" >> "$CALLS"\n'
        'case "$*" in *install*) exit "$FAKE_INSTALL_RC";; esac'
    ),
    "apt-cache": '[ "$FAKE_KNOWN" = 1 ] || exit 100',
}


@dataclass
class Run:
    """What one run of the script did."""

    returncode: int
    output: list[str]
    calls: list[str]


def _run(
    tmp_path: Path,
    *,
    uid: int = 1000,
    ci: str = "",
    sudo_ok: bool = True,
    known: bool = True,
    install_rc: int = 0,
    require: bool = False,
    installed: tuple[str, ...] = (),
    apt: bool = True,
) -> Run:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env_binary = shutil.which("env")
    assert env_binary
    (bin_dir / "env").symlink_to(env_binary)
    fakes = {**dict.fromkeys(installed, "exit 0"), **FAKES}
    for name, body in fakes.items():
        if name.startswith("apt") and not apt:
            continue
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls"
    calls.touch()
    env = {
        "PATH": str(bin_dir),
        "CALLS": str(calls),
        "FAKE_UID": str(uid),
        "FAKE_SUDO_OK": "1" if sudo_ok else "0",
        "FAKE_KNOWN": "1" if known else "0",
        "FAKE_INSTALL_RC": str(install_rc),
        "CI": ci,
        "AGENT_TRACING_REQUIRE_SERVICES": "1" if require else "",
    }
    done = subprocess.run(
        ["/bin/sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30, check=False
    )
    return Run(
        done.returncode, (done.stdout + done.stderr).splitlines(), calls.read_text().splitlines()
    )


INSTALL = "apt-get install -y -qq --no-install-recommends chromium lnav frontend=noninteractive"
UPDATE = "apt-get update -qq frontend=noninteractive"


def test_nothing_to_do_when_installed(tmp_path: Path) -> None:
    """With chromium and lnav on PATH the script calls nothing and succeeds."""
    run = _run(tmp_path, uid=0, installed=("chromium", "lnav"))
    expected: tuple[int, list[str]] = (0, [])
    assert expected == (run.returncode, run.calls)


@pytest.mark.parametrize("ci", ["", "true"])
def test_user_who_would_be_prompted_gets_one_line(tmp_path: Path, ci: str) -> None:
    """Not root, and sudo would ask a password (or we are not in CI): no apt, no sudo prompt,
    one line naming the packages, and success so the tests run and skip."""
    run = _run(tmp_path, ci=ci, sudo_ok=False)
    probe = ["sudo -n true"] if ci else []  # sudo -n never prompts: it fails instead
    expected = (0, probe, 1)
    assert expected == (run.returncode, run.calls, len(run.output))
    assert "apt-get install chromium lnav" in run.output[0]


def test_developer_with_passwordless_sudo_is_only_told(tmp_path: Path) -> None:
    """Outside CI, a user's sudo is never used, even without a password."""
    run = _run(tmp_path, sudo_ok=True)
    expected: tuple[int, list[str]] = (0, [])
    assert expected == (run.returncode, run.calls)
    assert "apt-get install chromium lnav" in run.output[0]


def test_missing_tools_fail_under_require(tmp_path: Path) -> None:
    """Under AGENT_TRACING_REQUIRE_SERVICES=1 the same line comes with a failure."""
    run = _run(tmp_path, require=True)
    expected = 1
    assert expected == run.returncode
    assert "apt-get install chromium lnav" in run.output[0]


def test_root_installs_without_update_when_apt_knows_the_packages(tmp_path: Path) -> None:
    """As root: apt-get install -y, non-interactive, and no apt-get update when not needed."""
    run = _run(tmp_path, uid=0)
    expected = (0, [INSTALL])
    assert expected == (run.returncode, run.calls)


def test_root_updates_first_when_a_package_is_unknown(tmp_path: Path) -> None:
    """Package lists that do not know a package are updated before the install."""
    run = _run(tmp_path, uid=0, known=False)
    expected = (0, [UPDATE, INSTALL])
    assert expected == (run.returncode, run.calls)


def test_ci_installs_through_sudo_without_prompt(tmp_path: Path) -> None:
    """In CI, a passwordless sudo installs only what is missing, never prompting (sudo -n)."""
    run = _run(tmp_path, ci="true", installed=("chromium",))
    lnav_only = "apt-get install -y -qq --no-install-recommends lnav"
    calls = [
        "sudo -n true",
        f"sudo -n env DEBIAN_FRONTEND=noninteractive {lnav_only}",
        f"{lnav_only} frontend=noninteractive",
    ]
    expected = (0, calls)
    assert expected == (run.returncode, run.calls)


def test_failed_install_retries_after_update_then_says_what_to_install(tmp_path: Path) -> None:
    """An install that fails (stale lists, no network) is retried once after an update; if it
    still fails the script says what to install and lets the tests skip."""
    run = _run(tmp_path, uid=0, install_rc=100)
    expected = (0, [INSTALL, UPDATE, INSTALL])
    assert expected == (run.returncode, run.calls)
    assert "apt-get install chromium lnav" in run.output[-1]


def test_without_apt_names_the_packages(tmp_path: Path) -> None:
    """Without apt-get (not Debian/Ubuntu) the script names what to install and succeeds."""
    run = _run(tmp_path, uid=0, apt=False)
    expected: tuple[int, list[str]] = (0, [])
    assert expected == (run.returncode, run.calls)
    assert "chromium lnav" in run.output[0]


def test_skip_reason_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test needing a missing binary skips saying which package to install."""
    monkeypatch.setattr(chromium, "REQUIRE", False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        chromium.find_binary("no-such-tool-x", "no-such-tool-y")
    assert "apt-get install no-such-tool-x" in str(skipped.value)


def test_missing_binary_fails_under_require(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under AGENT_TRACING_REQUIRE_SERVICES=1 a missing binary fails the test instead."""
    monkeypatch.setattr(chromium, "REQUIRE", True)
    with pytest.raises(pytest.fail.Exception):
        chromium.find_binary("no-such-tool-x")
