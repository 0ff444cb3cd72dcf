"""A batch of dialogues' turn texts, flattened and encoded once for every check that reads them.

The lint artefact search, the safety screen and the privacy scan each look at a whole batch of
turn texts at once, and each used to flatten the batch, test every text for ASCII and join and
encode the ASCII ones again: three copies of the same work (at 100k dialogues, 1.8M turns and
hundreds of megabytes of text). :class:`BatchTexts` does it once; each check reads the parts it
needs. The ASCII texts are joined with a NUL before each (no check's pattern or cue spans a
NUL, so every text is looked at as if alone), as one byte array.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from curation_app.domain import Dialogue, Role


@dataclass(frozen=True)
class BatchTexts:
    """The turn texts of ``dialogues``, in order, with what the batch checks share.

    ``firsts[k]:firsts[k + 1]`` are dialogue ``k``'s turns in ``texts`` and ``roles``;
    ``plain[i]`` says whether ``texts[i]`` is ASCII, ``ascii_ids`` lists those texts in order
    and ``others`` the rest.
    """

    texts: list[str]
    roles: list[Role]
    firsts: list[int]
    plain: list[bool]
    ascii_ids: list[int]
    others: list[int]

    @classmethod
    def of(cls, dialogues: Sequence[Dialogue]) -> BatchTexts:
        turns = [t for d in dialogues for t in d.turns]
        return cls.flat([t.text for t in turns], [t.role for t in turns],
                        list(itertools.accumulate((len(d.turns) for d in dialogues),
                                                  initial=0)))

    @classmethod
    def flat(cls, texts: Sequence[str], roles: Sequence[Role] = (),
             firsts: Sequence[int] = ()) -> BatchTexts:
        """Texts that belong to no dialogue in particular (``firsts`` then stays empty)."""
        texts = list(texts)
        plain = [t.isascii() for t in texts]
        ascii_ids = list(itertools.compress(range(len(texts)), plain))
        others = ([i for i, p in enumerate(plain) if not p] if len(ascii_ids) < len(texts)
                  else [])
        return cls(texts, list(roles), list(firsts), plain, ascii_ids, others)

    @cached_property
    def ascii_texts(self) -> list[str]:
        texts = self.texts
        return [texts[i] for i in self.ascii_ids]

    @cached_property
    def ascii_bytes(self) -> np.ndarray:
        """The ASCII texts as bytes, a NUL before each (``uint8``, read-only)."""
        data = ("\x00" + "\x00".join(self.ascii_texts)).encode("ascii")
        return np.frombuffer(data, dtype=np.uint8)

    @cached_property
    def ascii_starts(self) -> np.ndarray:
        """Where each ASCII text begins in :attr:`ascii_bytes` (after its NUL), then the end
        (its length plus one: where a next text would begin)."""
        lengths = np.fromiter(map(len, self.ascii_texts), dtype=np.int64,
                              count=len(self.ascii_ids))
        return np.concatenate([[1], np.cumsum(lengths + 1) + 1])

    def owner(self, positions: np.ndarray) -> np.ndarray:
        """Which ASCII text (its rank among them) holds each position of
        :attr:`ascii_bytes`; a text's NUL counts as the text before it."""
        return np.searchsorted(self.ascii_starts, positions, side="right") - 1
