"""Agent tools: indicator look-up and strategy code validation."""

from __future__ import annotations

import json

import pytest

from app.agents.strategy.codegen import parse_request, render_strategy
from app.agents.tools import check_strategy_code, lookup_indicator, validate_strategy_code


def test_lookup_indicator_knows_the_catalogue_and_refuses_the_rest() -> None:
    """A known indicator is described; an unknown one raises a clear error."""
    assert json.loads(lookup_indicator.invoke({"name": "SMA"}))["indicator"] == "sma"
    with pytest.raises(ValueError, match="unknown indicator"):
        lookup_indicator.invoke({"name": "ichimoku"})


@pytest.mark.parametrize("request_text", ["sma 10 30", "ema 12/26 on 4h", "rsi 7"])
def test_rendered_strategies_validate(request_text: str) -> None:
    """Every strategy the scripted agent renders passes validation."""
    check = check_strategy_code(render_strategy(parse_request(request_text)))
    assert check["valid"] is True
    assert check["errors"] == []


def test_validation_reports_what_is_wrong() -> None:
    """Syntax errors, a missing IStrategy subclass and missing methods are reported."""
    assert "syntax error" in check_strategy_code("class (:")["errors"][0]
    assert check_strategy_code("class A:\n    pass\n")["errors"] == ["no IStrategy subclass"]
    partial = "class S(IStrategy):\n    def populate_indicators(self): ...\n"
    result = json.loads(validate_strategy_code.invoke({"code": partial}))
    assert result == {
        "valid": False,
        "class_name": "S",
        "errors": ["missing method populate_entry_trend", "missing method populate_exit_trend"],
    }
