"""read_ahead: the items of an iterable, in order, read by a thread one step ahead."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from curation_app.errors import InvalidInputError
from curation_app.formats.stream import read_ahead


def test_items_come_in_order_and_all_of_them():
    assert list(read_ahead(range(50))) == list(range(50))
    assert list(read_ahead([])) == []


def test_a_readers_error_is_raised_where_its_item_would_have_come():
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InvalidInputError("in.json is truncated")

    got = []
    with pytest.raises(InvalidInputError, match="in.json is truncated"):
        for item in read_ahead(items()):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_reader_and_closes_its_source():
    closed = threading.Event()

    def items() -> Iterator[int]:
        try:
            n = 0
            while True:
                n += 1
                yield n
        finally:
            closed.set()

    ahead = read_ahead(items())
    assert [next(ahead), next(ahead)] == [1, 2]
    ahead.close()
    assert closed.is_set()
    assert not any(t.name == "read-ahead" and t.is_alive() for t in threading.enumerate())
