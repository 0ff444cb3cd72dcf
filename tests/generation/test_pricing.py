"""Cost from the editable price table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_app.errors import InvalidInputError
from curation_app.generation import PriceTable

USAGE = {"prompt_tokens": 1_000_000, "completion_tokens": 500_000}


def test_the_bundled_table_prices_a_known_model_and_its_dated_snapshot() -> None:
    table = PriceTable.load()
    cost = table.cost_usd("gpt-4o-mini", USAGE)
    assert cost is not None and cost > 0
    assert table.cost_usd("gpt-4o-mini-2024-07-18", USAGE) == cost


def test_an_unknown_model_costs_none_not_a_guess() -> None:
    assert PriceTable.load().cost_usd("my-local-llama", USAGE) is None


def test_the_table_file_can_be_replaced_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"my-local-llama": {"input": 1, "output": 2}}}))
    monkeypatch.setenv("CURATION_PRICES_FILE", str(path))
    table = PriceTable.load()
    assert table.cost_usd("my-local-llama", USAGE) == pytest.approx(2.0)
    assert table.cost_usd("gpt-4o-mini", USAGE) is None


def test_a_malformed_price_entry_names_the_model(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"cheap": {"input": "free"}}}))
    with pytest.raises(InvalidInputError, match="'cheap'"):
        PriceTable.load(path)
