"""Fixtures for the format tests: the real samples in ../shared/data and the preset vocabularies.

The samples are read, never edited: a test that needs a variant builds it in memory.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from curation_app import formats
from curation_app.presets import Vocabulary, load_preset

DATA = Path(__file__).parents[2].parent / "shared" / "data"
ESCONV = ("esconv", "ESConv.json")
PECONV = ("peconv", "child_chat_100.json")
EXTES = ("extes", "extes_one_record.json")


def sample(parts: tuple[str, ...]) -> Path:
    """A sample file, or a skip that says what is missing and where it was looked for."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"sample data {path} is absent (the format tests read ../shared/data)")
    return path


@cache
def _parsed(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))


def sample_records(parts: tuple[str, ...]) -> list[dict[str, Any]]:
    """The sample parsed with Python's json (which, like the sample, allows NaN). Shared between
    tests, so read-only: use :func:`sample_head` for a copy to change."""
    return _parsed(sample(parts))


def sample_head(parts: tuple[str, ...], count: int) -> list[dict[str, Any]]:
    """A private, changeable copy of the sample's first ``count`` records."""
    return copy.deepcopy(sample_records(parts)[:count])


def as_bytes(records: Any) -> bytes:
    return json.dumps(records, ensure_ascii=False, indent=2).encode("utf-8")


_ODD_VALUES = [None, "", "x", 0, -1, 1.5, 2.0, True, False, float("nan"), [], {}, ["a", 3],
               {"text": "t"}, {"User": "u", "AI": "a"}, "Question", "孩子", "seeker"]


def mutations(record: Any, rng: random.Random, count: int) -> Iterator[Any]:
    """Copies of ``record`` with one node replaced, deleted, or given an extra key."""
    paths = []

    def walk(node, path):
        paths.append(path)
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(record, ())
    for _ in range(count):
        copy = json.loads(json.dumps(record))
        path = rng.choice(paths)
        if not path:
            yield rng.choice(_ODD_VALUES)
            continue
        parent = copy
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.2 and isinstance(parent, dict):
            del parent[path[-1]]
        elif action < 0.3 and isinstance(parent, dict):
            parent[rng.choice(["User", "AI", "strategy", "Description", "extra"])] = \
                rng.choice(_ODD_VALUES)
        else:
            parent[path[-1]] = rng.choice(_ODD_VALUES)
        yield copy


@pytest.fixture(scope="session")
def esconv_vocab() -> Vocabulary:
    return load_preset("esconv")


@pytest.fixture(scope="session")
def peconv_vocab() -> Vocabulary:
    return load_preset("peconv")


@pytest.fixture(scope="session")
def extes_vocab() -> Vocabulary:
    return load_preset("extes")


@pytest.fixture(scope="session")
def esconv_result(esconv_vocab: Vocabulary) -> formats.ReadResult:
    """ESConv.json read once for the whole session (it is the largest sample)."""
    return formats.read_file(sample(ESCONV), "esconv", esconv_vocab)


@pytest.fixture(scope="session")
def peconv_result(peconv_vocab: Vocabulary) -> formats.ReadResult:
    return formats.read_file(sample(PECONV), "peconv", peconv_vocab)


@pytest.fixture(scope="session")
def extes_result(extes_vocab: Vocabulary) -> formats.ReadResult:
    return formats.read_file(sample(EXTES), "extes", extes_vocab)
