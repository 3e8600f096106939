"""Encoding under attack: a huge int or a mapping that cannot be iterated costs one value, never
the rest of ``data`` nor the line, and never raises into the caller."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import orjson

import agent_tracing as at
from agent_tracing.encoding import Sanitizer, bounded_int
from agent_tracing.testing import CapturedEvents


def test_a_huge_int_keeps_the_rest_of_data() -> None:
    """A 5,000-digit int is bounded and marked; the other keys of data stay."""
    huge = 7 * 10**4999 + 9
    out = Sanitizer().clean_mapping({"n": huge, "ok": 1, "s": "x"})
    assert {k: v for k, v in out.items() if k != "n"} == {"ok": 1, "s": "x"}
    assert out["n"] == "70000000000000000000…00000000000000000009[5000 digits]"


def test_a_huge_int_nested_or_in_a_list() -> None:
    """Nested and listed huge ints are bounded the same way, on every path."""
    huge = -(10**5000)
    out = Sanitizer().clean({"a": [huge, 2], "b": {"c": huge}, "d": (huge,)})
    marked = "-10000000000000000000…00000000000000000000[5001 digits]"
    assert {"a": [marked, 2], "b": {"c": marked}, "d": [marked]} == out


def test_bounded_int() -> None:
    """Ints of up to 64 digits print whole; a longer one keeps its ends and its length."""
    assert ["5", str(2**70), "9" * 64, "-" + "9" * 20 + "…" + "9" * 20 + "[4000 digits]"] == [
        bounded_int(5),
        bounded_int(2**70),
        bounded_int(int("9" * 64)),
        bounded_int(-int("9" * 4000)),
    ]
    assert bounded_int(10**4300).endswith("[4301 digits]")
    assert bounded_int(1 << 2_000_000).endswith("digits]")  # too long to count exactly: fast


class BrokenMapping(Mapping[str, int]):
    """A mapping whose iteration, items and length all raise."""

    def __getitem__(self, key: str) -> int:
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("no iter")

    def __len__(self) -> int:
        raise RuntimeError("no len")

    def items(self):  # type: ignore[no-untyped-def, override]
        raise RuntimeError("no items")


def test_a_mapping_whose_iteration_raises(log_events: CapturedEvents) -> None:
    """A broken mapping in data is logged as a marker; the message and the rest stay."""
    at.get_logger("app.x").info("kept", data={"m": BrokenMapping(), "ok": 1})
    at.get_logger("app.x").info("kept too", data=BrokenMapping())
    first, second = log_events.raw
    assert (first["message"], first["data"]["ok"]) == ("kept", 1)
    assert first["data"]["m"] == "<unreadable BrokenMapping>"
    assert second["message"] == "kept too"
    assert "BrokenMapping" in orjson.dumps(second["data"]).decode()


def test_clean_mapping_of_a_broken_mapping_does_not_raise() -> None:
    """clean_mapping and clean return a marker for a mapping that cannot be read."""
    sanitizer = Sanitizer()
    assert sanitizer.clean_mapping(BrokenMapping()) == {"value": "<unreadable BrokenMapping>"}
    assert sanitizer.clean({"m": BrokenMapping()}) == {"m": "<unreadable BrokenMapping>"}


class BadPairs(Mapping[str, int]):
    """A mapping whose items are not pairs, and whose iteration raises half-way."""

    def __getitem__(self, key: str) -> int:
        return 1

    def __iter__(self) -> Iterator[str]:
        yield "a"
        raise RuntimeError("half-way")

    def __len__(self) -> int:
        return 2

    def items(self):  # type: ignore[no-untyped-def, override]
        return [1, 2, 3]


def test_a_nested_mapping_with_bad_items_costs_only_itself() -> None:
    """A nested mapping whose items are not pairs becomes a marker; its siblings stay."""
    out = Sanitizer().clean_mapping({"ok": 1, "m": BadPairs(), "l": [BadPairs(), 2]})
    assert out == {"ok": 1, "m": "<unreadable BadPairs>", "l": ["<unreadable BadPairs>", 2]}


class BrokenList(list[int]):
    """A list whose iteration raises."""

    def __iter__(self) -> Iterator[int]:
        raise RuntimeError("no iter")


def test_a_nested_sequence_whose_iteration_raises_costs_only_itself() -> None:
    """A list subclass whose iteration raises becomes a marker; its siblings stay."""
    out = Sanitizer().clean_mapping({"ok": 1, "l": BrokenList([1])})
    assert out == {"ok": 1, "l": "<unreadable BrokenList>"}
