"""What a generation call cost, from a small editable price table.

Prices change more often than code, so they live in a JSON file: the bundled default
(``prices.json`` beside this module) or the file named by ``CURATION_PRICES_FILE``. Unknown models
cost ``None`` (shown as "unknown"), never a guessed number.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from curation_app.errors import InvalidInputError, NotFoundError

PRICES_ENV = "CURATION_PRICES_FILE"
# "gpt-4o-mini-2024-07-18" and "gpt-4-0613" are snapshots of "gpt-4o-mini" and "gpt-4".
_SNAPSHOT_SUFFIX = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


@dataclass(frozen=True)
class ModelPrice:
    input_per_m: float
    output_per_m: float


@dataclass(frozen=True)
class PriceTable:
    """USD per million input and output tokens, by model name."""

    prices: Mapping[str, ModelPrice]
    source: str = "(inline)"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = "(inline)") -> PriceTable:
        models = data.get("models", data)
        prices: dict[str, ModelPrice] = {}
        for name, entry in models.items():
            if name.startswith("_"):
                continue  # "_comment" and friends
            try:
                prices[name] = ModelPrice(float(entry["input"]), float(entry["output"]))
            except (KeyError, TypeError, ValueError) as exc:
                raise InvalidInputError(
                    f"price table {source}, model {name!r}: needs numeric 'input' and 'output' "
                    "(USD per 1M tokens)"
                ) from exc
        return cls(prices=prices, source=source)

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """The table at ``path``, else at ``$CURATION_PRICES_FILE``, else the bundled default."""
        chosen = path or os.environ.get(PRICES_ENV)
        if chosen:
            try:
                text = Path(chosen).read_text(encoding="utf-8")
            except FileNotFoundError as exc:
                raise NotFoundError(f"price table {chosen} does not exist") from exc
            source = str(chosen)
        else:
            text = resources.files(__package__).joinpath("prices.json").read_text("utf-8")
            source = "bundled prices.json"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"price table {source} is not valid JSON (line {exc.lineno}: {exc.msg})"
            ) from exc
        return cls.from_dict(data, source=source)

    def price(self, model: str) -> ModelPrice | None:
        if model in self.prices:
            return self.prices[model]
        base = _SNAPSHOT_SUFFIX.sub("", model)
        return self.prices.get(base)

    def cost_usd(self, model: str, usage: Mapping[str, int] | None) -> float | None:
        """Cost of ``usage`` (``prompt_tokens``, ``completion_tokens``) on ``model``, or None."""
        price = self.price(model)
        if price is None or usage is None:
            return None
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        return (prompt * price.input_per_m + completion * price.output_per_m) / 1_000_000
