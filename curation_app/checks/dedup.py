"""Exact and near-duplicate detection for whole dialogues and for single supporter turns.

::

    texts -> normalise (NFKC, casefold) -> tokens (words; CJK characters one by one)
          -> exact fingerprints (hash of the token sequence)        -> exact clusters
          -> shingles (k consecutive tokens) -> one-permutation MinHash -> LSH bands
          -> candidate pairs -> rapidfuzz Indel similarity >= threshold -> near clusters

How it stays near-linear at 100k dialogues: everything up to the candidate pairs runs on numpy
arrays over a whole batch of text at once; no Python object is made per token. Tokens are found
with a character-class lookup table, hashed with a polynomial prefix sum over code points, and
shingles are weighted sums of token hashes. Signatures use one-permutation hashing (Li, Owen &
Zhang 2012): each shingle hash falls into one of ``bins`` bins by its top bits and the bin keeps
its minimum, so a signature costs one pass over the shingles instead of one per hash function;
empty bins borrow from the next filled bin (rotation densification, Shrivastava & Li 2014).
Signatures are cut into bands of ``rows`` values; dialogues that agree on a whole band become a
candidate pair (within a bucket, each member is paired with the bucket's lowest member, so a
sentence recycled a thousand times costs a thousand comparisons, not half a million).

Every candidate is confirmed with rapidfuzz's normalised Indel similarity (2·LCS / total length)
over the token sequences: word by word for English, character by character for Chinese. That
score is what the threshold applies to and what a lead sees; the MinHash is only a filter. For
dialogues, 16 bands of 4 rows make a pair with shingle-Jaccard 0.7 a candidate with probability
0.99 and one with Jaccard 0.1 with probability 0.002 (one turn of 18 replaced leaves about 0.89,
three words changed about 0.95). Turns are short and many, so there the pair must agree on two
of 10 bands of 3 rows: 0.98 at Jaccard 0.78 (one word changed in a 26-word sentence), 0.00005 at
0.1.

Findings are flags: nothing here removes anything.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal

import numpy as np
from rapidfuzz.distance import Indel

from curation_app.checks.text import CJK, CLASS_SHIFT, CODE_MASK, WORD, char_table

Level = Literal["dialogue", "turn"]

_U64 = np.uint64
_MAX = np.iinfo(np.uint64).max
# Odd 64-bit constants (from splitmix64 and the golden ratio); any odd, well-mixed ones will do.
_BASE = 0x9E3779B97F4A7C15
_BASE32 = np.uint32(0x9E3779B1)
_BASE32_INV = np.uint32(pow(0x9E3779B1, -1, 1 << 32))
_M1, _M2 = _U64(0xBF58476D1CE4E5B9), _U64(0x94D049BB133111EB)


def _odd_constants(count: int, seed: int = 0x5EED) -> tuple[np.uint64, ...]:
    """``count`` well-mixed odd 64-bit multipliers (the splitmix64 sequence)."""
    out, x = [], seed
    for _ in range(count):
        x = (x + _BASE) % (1 << 64)
        z = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 % (1 << 64)
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB % (1 << 64)
        out.append(np.uint64((z ^ (z >> 31)) | 1))
    return tuple(out)


_SHINGLE_MULT = _odd_constants(16)
_POS = _U64(0x2545F4914F6CDD1D)
_DENSE = _U64(0x632BE59BD9B4E019)
_CONFIRM_CHUNK = 512  # candidate pairs confirmed per round (their token lists held meanwhile)
_CLASS_SHIFT = np.uint32(CLASS_SHIFT)
_CODE_MASK = np.uint32(CODE_MASK)


@dataclass(frozen=True)
class DedupParams:
    """Tuning of the near-duplicate search; the defaults are what the benchmark measures.

    ``shingle``/``turn_shingle``: tokens per shingle for whole dialogues and single turns in
    word-based text; ``cjk_*`` the same for Chinese, where a token is one character, so that a
    shingle spans about two words either way (shorter shingles make every pair of Chinese
    turns look alike through 我们/你的/什么). ``bins``/``rows``: signature length and band
    height (``bins // rows`` bands); a turn pair must share ``turn_min_bands`` bands, which
    sharpens the filter where the pairs are many and the sets small.
    ``min_turn_weight``: supporter turns shorter than this many words (a CJK character counts
    half) are not compared; "Thank you so much." recurs everywhere and is not a fault.
    ``batch_chars``: how much text is vectorised at once; half a million characters keeps the
    arrays in cache and bounds the memory used.
    """

    shingle: int = 3
    turn_shingle: int = 3
    cjk_shingle: int = 4
    cjk_turn_shingle: int = 4
    bins: int = 64
    rows: int = 4
    turn_bins: int = 32
    turn_rows: int = 3
    turn_min_bands: int = 2
    min_turn_weight: float = 8.0
    batch_chars: int = 1 << 19

    def __post_init__(self) -> None:
        for name in ("bins", "turn_bins"):
            value = getattr(self, name)
            if value < 2 or value & (value - 1):
                raise ValueError(f"{name} must be a power of two >= 2, not {value}")
        if not (0 < self.rows <= self.bins and 0 < self.turn_rows <= self.turn_bins):
            raise ValueError("rows must be between 1 and the number of bins")
        if min(self.shingle, self.turn_shingle, self.cjk_shingle, self.cjk_turn_shingle) < 1 \
                or max(self.shingle, self.turn_shingle, self.cjk_shingle,
                       self.cjk_turn_shingle) > len(_SHINGLE_MULT):
            raise ValueError(f"shingles must be 1 to {len(_SHINGLE_MULT)} tokens long")

    def shingles(self, language: str) -> tuple[int, int]:
        """Shingle sizes (dialogues, turns) for a corpus in ``language``."""
        if language.startswith(("zh", "ja")):
            return self.cjk_shingle, self.cjk_turn_shingle
        return self.shingle, self.turn_shingle


@dataclass(frozen=True)
class Member:
    """One member of a cluster: the input dialogue's index, the turn (for turn clusters) and
    its best similarity to another member."""

    item: int
    turn: int | None
    score: float


@dataclass(frozen=True)
class Cluster:
    """Dialogues (or supporter turns) that are duplicates of each other.

    ``exact``: all members are equal after normalisation. ``score``: the weakest confirmed
    similarity that holds the cluster together (1.0 for exact clusters).
    """

    level: Level
    exact: bool
    score: float
    members: tuple[Member, ...]

    @property
    def items(self) -> list[int]:
        return sorted({m.item for m in self.members})


@dataclass
class DedupResult:
    clusters: list[Cluster]
    dialogues: int
    turns_compared: int
    candidates: int = 0
    confirmed: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


# ---- vectorised sketching ----------------------------------------------------------------------
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser: every output bit depends on every input bit."""
    x = x ^ (x >> _U64(30))
    x *= _M1
    x ^= x >> _U64(27)
    x *= _M2
    x ^= x >> _U64(31)
    return x


class _Powers:
    """BASE**i and BASE**-i modulo 2**32, grown on demand (the polynomial token hash). The
    pair is replaced in one assignment, so threads sharing it never see mismatched halves."""

    def __init__(self) -> None:
        self.arrays = (np.ones(0, dtype=np.uint32), np.ones(0, dtype=np.uint32))

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        pw, ipw = self.arrays
        if len(pw) < n:
            size = max(n, 2 * len(pw), 1 << 16)
            with np.errstate(over="ignore"):
                pw = np.cumprod(np.full(size, _BASE32, dtype=np.uint32)) * _BASE32_INV
                ipw = np.cumprod(np.full(size, _BASE32_INV, dtype=np.uint32)) * _BASE32
            self.arrays = (pw, ipw)
        return pw[:n], ipw[:n]


_POWERS = _Powers()


def _segment_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Wrapping uint64 sums of consecutive segments; 0 for empty segments."""
    out = np.zeros(len(counts), dtype=np.uint64)
    filled = counts > 0
    if filled.any():
        out[filled] = np.add.reduceat(values, starts[filled])
    return out


def _shingles(th: np.ndarray, owner: np.ndarray, first: np.ndarray, count: np.ndarray,
              k: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of ``k`` consecutive tokens with the same owner (turn), and their owners.

    A turn shorter than ``k`` tokens gives one shingle of all its tokens.
    """
    n = len(th)
    if n == 0:
        return th, owner
    pad_th = np.concatenate([th, np.zeros(k - 1, dtype=np.uint64)])
    pad_owner = np.concatenate([owner, np.full(k - 1, -1, dtype=owner.dtype)])
    s = th * _SHINGLE_MULT[0]
    same = np.ones(n, dtype=bool)
    for j in range(1, k):
        same = pad_owner[j:j + n] == owner
        s += np.where(same, pad_th[j:j + n], _U64(0)) * _SHINGLE_MULT[j]
    valid = same  # the last token of the window is still in the turn
    short = (count > 0) & (count < k)
    if short.any():
        valid[first[short]] = True
    return s[valid], owner[valid]


def _oph(values: np.ndarray, rows: np.ndarray, n_rows: int, bins: int) -> np.ndarray:
    """One-permutation MinHash: per row, the minimum value in each of ``bins`` bins."""
    shift = _U64(64 - int(np.log2(bins)))
    sig = np.full(n_rows * bins, _MAX, dtype=np.uint64)
    if len(values):
        key = rows.astype(np.int64) * bins + (values >> shift).astype(np.int64)
        np.minimum.at(sig, key, values)
    return sig.reshape(n_rows, bins)


def _densify(sig: np.ndarray) -> np.ndarray:
    """Fill empty bins from the next filled bin to the right (circularly), offset by distance,
    so that two similar sets still agree on them. Rows with no shingle at all stay empty."""
    empty = sig == _MAX
    if not empty.any():
        return sig
    n, k = sig.shape
    big = np.int16(4 * k)
    cols = np.arange(k, dtype=np.int16)
    idx = np.where(empty, big, cols[None, :])
    # nearest filled bin at or after each position; wrap around to the row's first filled one
    nxt = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]
    first = nxt[:, :1]
    nxt = np.where(nxt >= big, first + np.int16(k), nxt)
    dist = (nxt - cols[None, :]).astype(np.uint64)
    out = np.take_along_axis(sig, (nxt % np.int16(k)).astype(np.intp), axis=1)
    out += dist * _DENSE
    out[first[:, 0] >= big] = _MAX
    return out


def _band_keys(sig: np.ndarray, rows: int) -> np.ndarray:
    """LSH band keys: each band of ``rows`` densified MinHash values hashed to one uint64."""
    sig = _densify(sig)
    n, k = sig.shape
    bands = k // rows
    block = sig[:, :bands * rows].reshape(n, bands, rows)
    keys = block[:, :, 0] * _SHINGLE_MULT[0]
    for j in range(1, rows):
        keys += block[:, :, j] * _SHINGLE_MULT[j]
    return keys


@dataclass
class _Sketch:
    dialogue_exact: np.ndarray  # uint64 per dialogue
    dialogue_tokens: np.ndarray  # int64 per dialogue
    dialogue_keys: np.ndarray  # (dialogues, bands) uint64
    turn_exact: np.ndarray  # uint64 per turn (0: no tokens)
    turn_rows: np.ndarray  # indices (into all turns) of the turns compared one by one
    turn_keys: np.ndarray  # (len(turn_rows), turn bands) uint64


def _batches(char_counts: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Consecutive ranges of dialogues holding about ``size`` characters each."""
    ends = np.concatenate([[0], np.cumsum(char_counts)])
    cuts = np.searchsorted(ends, np.arange(size, ends[-1], size), side="left")
    bounds = sorted({0, len(char_counts), *(int(c) for c in cuts if 0 < c < len(char_counts))})
    return list(itertools.pairwise(bounds))


def _joined(texts: Sequence[str]) -> str:
    """``texts`` joined by NUL, the tokeniser's separator; a NUL a text carried itself (JSON
    allows ``\\u0000``) is blanked, as any other separator is."""
    joined = "\x00".join(texts)
    if joined.count("\x00") != len(texts) - 1:
        joined = "\x00".join(t.replace("\x00", " ") for t in texts)
    return joined


@cache
def _ascii_tables() -> tuple[np.ndarray, np.ndarray]:
    """:func:`char_table` for the 128 ASCII characters as (class, folded code) byte tables:
    ASCII folds to ASCII, so an ASCII batch is tokenised on one byte a character."""
    table = char_table()[:128]
    code = table & _CODE_MASK
    assert int(code.max()) < 128
    return (table >> _CLASS_SHIFT).astype(np.int8), code.astype(np.uint8)


def _classes(joined: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each character's token class (int8) and folded code (uint32), and where the NULs
    are: :func:`char_table` over the text."""
    # surrogatepass: a lone surrogate (JSON allows "\ud800") becomes a separator, not an error
    # take, not [] indexing: the same gather, measured faster (and 2x for uint8 indices)
    code = char_table().take(np.frombuffer(joined.encode("utf-32-le", "surrogatepass"),
                                           dtype=np.uint32))
    seps = np.flatnonzero(code == 0)  # NUL maps to itself and nothing else does
    cls = (code >> _CLASS_SHIFT).astype(np.int8)
    code &= _CODE_MASK
    return cls, code, seps


def _classes_ascii(joined: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_classes` of an ASCII text, one byte a character instead of four (the codes as
    uint8): the passes over the characters move a quarter of the data."""
    ascii_cls, ascii_code = _ascii_tables()
    raw = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    return ascii_cls.take(raw), ascii_code.take(raw), np.flatnonzero(raw == 0)


def _tokenise(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Token hashes of ``texts`` (one batch), the token boundaries of the texts (text k has
    tokens ``bounds[k]:bounds[k + 1]``), and each token's CJK flag; vectorised over the batch.
    """
    return _tokenise_joined(_joined(texts))


def _tokenise_joined(joined: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_tokenise` of texts already joined by NUL (none inside a text)."""
    cls, code, seps = _classes_ascii(joined) if joined.isascii() else _classes(joined)
    n = len(code)
    # a CJK character is a token; so is a run of word characters
    cjk = cls == CJK
    word = cls == WORD
    start = cjk.copy()
    end = cjk
    if n:
        start[0] |= word[0]
        start[1:] |= word[1:] & ~word[:-1]
        end[-1] |= word[-1]
        end[:-1] |= word[:-1] & ~word[1:]
    ts = np.flatnonzero(start)
    te = np.flatnonzero(end)
    te += 1
    cjk_tok = cls[ts] == CJK
    del start, end, word, cls
    # Polynomial hash of each token: prefix sums of c * BASE**i cut out at the token and
    # shifted back by BASE**-start. 32-bit arithmetic halves the memory traffic of these
    # per-character passes; length and first character widen it to 64 bits before mixing.
    first_char = code[ts].astype(np.uint64)
    pw, ipw = _POWERS.get(n)
    weighted = np.multiply(code, pw, dtype=np.uint32)
    del code
    prefix = np.zeros(n + 1, dtype=np.uint32)
    np.cumsum(weighted, out=prefix[1:])
    del weighted
    h32 = prefix[te] - prefix[ts]
    h32 *= ipw[ts]
    th = h32.astype(np.uint64)
    th |= (te - ts).astype(np.uint64) << _U64(32)
    th ^= first_char << _U64(40)
    th = _mix(th)
    bounds = np.searchsorted(ts, np.concatenate([[0], seps + 1, [n + 1]]))
    return th, bounds, cjk_tok


def _sketch(dialogues: Sequence[Sequence[str]], eligible_role: np.ndarray,
            params: DedupParams, language: str, want_turns: bool) -> _Sketch:
    turn_counts = np.fromiter(map(len, dialogues), dtype=np.int64, count=len(dialogues))
    flat: list[str] = list(itertools.chain.from_iterable(dialogues))
    turn_first = np.concatenate([[0], np.cumsum(turn_counts)])
    turn_dlg = np.repeat(np.arange(len(dialogues), dtype=np.int64), turn_counts)
    chars = np.fromiter(map(len, flat), dtype=np.int64, count=len(flat))
    dlg_chars = np.bincount(turn_dlg, weights=chars + 1, minlength=len(dialogues))

    def batch_text(d0: int, d1: int) -> str:
        return _joined(flat[int(turn_first[d0]):int(turn_first[d1])])

    return _sketch_texts(batch_text, turn_counts, dlg_chars, eligible_role, params, language,
                         want_turns)


def _sketch_joined(joined: Sequence[str], turn_counts: np.ndarray, eligible_role: np.ndarray,
                   params: DedupParams, language: str, want_turns: bool) -> _Sketch:
    """:func:`_sketch` of dialogues given as their turn texts joined by NUL (no NUL inside a
    text): a batch's text is then one join of a few thousand strings, not of every turn."""
    dlg_chars = np.fromiter(map(len, joined), dtype=np.int64, count=len(joined)) + 1
    empty = turn_counts == 0
    dlg_chars[empty] = 0
    if empty.any():  # no turn: no text (a dialogue of one empty turn has one, "")
        joined = [text for text, none in zip(joined, empty.tolist(), strict=True) if not none]
        kept = np.concatenate([[0], np.cumsum(~empty)])
    else:
        kept = np.arange(len(joined) + 1)

    def batch_text(d0: int, d1: int) -> str:
        return "\x00".join(joined[int(kept[d0]):int(kept[d1])])

    return _sketch_texts(batch_text, turn_counts, dlg_chars, eligible_role, params, language,
                         want_turns)


def _sketch_texts(batch_text: Callable[[int, int], str], turn_counts: np.ndarray,
                  dlg_chars: np.ndarray, eligible_role: np.ndarray, params: DedupParams,
                  language: str, want_turns: bool) -> _Sketch:
    """Sketches of dialogues with ``turn_counts`` turns and ``dlg_chars`` characters (their
    turns' plus one a turn) each; ``batch_text(d0, d1)`` is the text of dialogues d0 to d1,
    their turns joined by NUL."""
    k_dialogue, k_turn = params.shingles(language)
    n_dlg = len(turn_counts)
    n_turns = int(turn_counts.sum())
    turn_first = np.concatenate([[0], np.cumsum(turn_counts)])
    turn_dlg = np.repeat(np.arange(n_dlg, dtype=np.int64), turn_counts)
    turn_pos = (np.arange(n_turns, dtype=np.int64) - turn_first[turn_dlg]).astype(np.uint64)

    out = _Sketch(
        dialogue_exact=np.zeros(n_dlg, dtype=np.uint64),
        dialogue_tokens=np.zeros(n_dlg, dtype=np.int64),
        dialogue_keys=np.zeros((n_dlg, params.bins // params.rows), dtype=np.uint64),
        turn_exact=np.zeros(n_turns, dtype=np.uint64),
        turn_rows=np.zeros(0, dtype=np.int64),
        turn_keys=np.zeros((0, params.turn_bins // params.turn_rows), dtype=np.uint64),
    )
    turn_rows: list[np.ndarray] = []
    turn_keys: list[np.ndarray] = []
    for d0, d1 in _batches(dlg_chars, params.batch_chars):
        t0, t1 = int(turn_first[d0]), int(turn_first[d1])
        n_t = t1 - t0
        if n_t == 0:
            continue
        th, bounds, cjk_tok = _tokenise_joined(batch_text(d0, d1))
        first_tok = bounds[:-1]
        count = np.diff(bounds)
        owner = np.repeat(np.arange(n_t, dtype=np.int64), count)

        # exact fingerprints: position-weighted sums of token hashes, then of turn hashes
        pos = np.arange(len(th), dtype=np.int64)
        pos -= np.repeat(first_tok, count)
        turn_exact = _segment_sums((th + pos.astype(np.uint64) * _POS) * _M1, first_tok, count)
        del pos
        out.turn_exact[t0:t1] = turn_exact
        dlg_first = turn_first[d0:d1] - t0
        out.dialogue_exact[d0:d1] = _segment_sums((turn_exact + turn_pos[t0:t1] * _POS) * _M2,
                                                  dlg_first, turn_counts[d0:d1])
        out.dialogue_tokens[d0:d1] = _segment_sums(count.astype(np.uint64), dlg_first,
                                                   turn_counts[d0:d1]).astype(np.int64)

        # whole-dialogue signatures
        s, s_owner = _shingles(th, owner, first_tok, count, k_dialogue)
        local_dlg = turn_dlg[t0:t1] - d0
        out.dialogue_keys[d0:d1] = _band_keys(
            _oph(s, local_dlg[s_owner], d1 - d0, params.bins), params.rows)

        # single supporter turns long enough to matter
        if want_turns:
            cjk_sum = np.concatenate([[0], np.cumsum(cjk_tok)])
            weight = count - (cjk_sum[bounds[1:]] - cjk_sum[first_tok]) / 2
            elig = eligible_role[t0:t1] & (weight >= params.min_turn_weight)
            n_e = int(elig.sum())
            if n_e:
                if k_turn == k_dialogue:
                    # a turn's shingles depend on its tokens alone: those of the dialogues'
                    # shingles that lie in eligible turns are the turns' own, in order
                    keep = elig[s_owner]
                    s, s_row = s[keep], (np.cumsum(elig) - 1)[s_owner[keep]]
                else:
                    e_count = count[elig]
                    e_first = np.concatenate([[0], np.cumsum(e_count)[:-1]])
                    row = np.repeat(np.arange(n_e, dtype=np.int64), e_count)
                    s, s_row = _shingles(th[elig[owner]], row, e_first, e_count, k_turn)
                turn_keys.append(_band_keys(_oph(s, s_row, n_e, params.turn_bins),
                                            params.turn_rows))
                turn_rows.append(np.flatnonzero(elig) + t0)
        del s, s_owner
    if turn_rows:
        out.turn_rows = np.concatenate(turn_rows)
        out.turn_keys = np.concatenate(turn_keys)
    return out


# ---- candidates, confirmation, clusters --------------------------------------------------------
def _candidate_pairs(keys: np.ndarray | Callable[[int], np.ndarray], min_bands: int = 1,
                     shape: tuple[int, int] | None = None) -> np.ndarray:
    """Pairs (i, j), i < j, of rows that share their key in at least ``min_bands`` bands.

    ``keys`` is the (rows, bands) matrix, or a function giving band b's column when the
    matrix is never built whole (then ``shape`` says its size).
    Within a bucket every member is paired with the bucket's lowest row only, so a bucket of
    size s costs s - 1 pairs, and the same pair comes out of every band the bucket recurs in.
    """
    if callable(keys):
        assert shape is not None
        n, bands = shape
        column = keys
    else:
        n, bands = keys.shape
        matrix = keys

        def column(b: int) -> np.ndarray:
            return matrix[:, b]
    found: list[np.ndarray] = []
    # Most keys occur once. A row whose key's bucket in a table of about 4n slots holds
    # nothing else cannot share its key, so only the rest are sorted (a quarter or so).
    slots = max(1, 1 << int(4 * n).bit_length())
    for b in range(bands):
        key = column(b)
        bucket = (key & _U64(slots - 1)).astype(np.intp)
        shared = np.flatnonzero(np.bincount(bucket, minlength=slots)[bucket] > 1)
        if len(shared) < 2:
            continue
        order = shared[np.argsort(key[shared])]
        sk = key[order]
        m = len(order)
        head = np.empty(m, dtype=bool)
        head[:1] = True
        np.not_equal(sk[1:], sk[:-1], out=head[1:])
        if head.all():
            continue
        starts = np.flatnonzero(head)
        sizes = np.diff(np.append(starts, m))
        lowest = np.repeat(np.minimum.reduceat(order, starts), sizes)
        other = order != lowest
        found.append(np.stack([lowest[other], order[other]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    codes, seen = np.unique(pairs[:, 0] * n + pairs[:, 1], return_counts=True)
    codes = codes[seen >= min_bands]
    return np.stack([codes // n, codes % n], axis=1)


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        parent = self.parent
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:
            parent[x], x = root, parent.get(x, x)
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _token_lists(items: Sequence[Sequence[str]], batch_chars: int) -> list[list[int]]:
    """The token hashes of each item (a sequence of texts), as the vectorised tokeniser sees
    them: what candidate pairs are compared on. Tokenised ``batch_chars`` at a time."""
    out: list[list[int]] = []
    group: list[Sequence[str]] = []
    size = 0
    for item in [*items, None]:
        if item is not None:
            group.append(item)
            size += sum(map(len, item))
        if group and (item is None or size >= batch_chars):
            flat = list(itertools.chain.from_iterable(group))
            if flat:
                th, bounds, _ = _tokenise(flat)
                values = th.view(np.int64).tolist()
                edges = bounds[np.concatenate([[0], np.cumsum([len(g) for g in group])])]
                out.extend(values[a:b] for a, b in itertools.pairwise(edges.tolist()))
            else:
                out.extend([] for _ in group)
            group, size = [], 0
    return out


def _cluster(ids: np.ndarray, exact: np.ndarray, keys: np.ndarray | list[np.ndarray],
             min_bands: int,
             texts_of: Callable[[list[int]], Sequence[Sequence[str]]], threshold: float,
             level: Level,
             where: Callable[[int], tuple[int, int | None]],
             stats: dict[str, int], batch_chars: int,
             label: np.ndarray | None = None) -> list[Cluster]:
    """Clusters among ``ids`` (dialogue or turn indices) given their exact fingerprints and
    band keys (rows aligned with ``ids``); ``texts_of`` gives the texts of a list of ids, for
    confirming candidates (only a chunk's worth is asked for, and held, at a time).
    ``label`` (aligned with ``ids``): a cluster whose members all have one label is left
    out, before any of its members is made."""
    if len(ids) < 2:
        return []
    _, first, inverse, counts = np.unique(exact, return_index=True, return_inverse=True,
                                          return_counts=True)
    # members of exact groups (only groups of two or more are ever listed)
    order = np.argsort(inverse, kind="stable")
    ends = np.cumsum(counts)
    multi = np.flatnonzero(counts > 1)
    if label is not None and len(multi):
        # exact groups within one label: tens of thousands at 100k (the supporter turns of
        # duplicated dialogues), never shown, so never built
        labels = label[order]
        starts = ends - counts  # every group's, so that each segment is one group
        mixed = np.minimum.reduceat(labels, starts) != np.maximum.reduceat(labels, starts)
        exact_shown = multi[mixed[multi]]
    else:
        exact_shown = multi

    def group_of(rep: int) -> list[int]:
        g = inverse[rep]
        return order[ends[g] - counts[g]:ends[g]].tolist()

    reps = np.sort(first)  # one per exact group, in input order
    if len(reps) < 2:
        pairs = np.zeros((0, 2), dtype=np.int64)
    elif isinstance(keys, list):
        # the batches' key matrices, never joined: one band's column at a time
        parts = keys

        def column(b: int) -> np.ndarray:
            return np.concatenate([p[:, b] for p in parts])[reps]

        pairs = reps[_candidate_pairs(column, min_bands,
                                      (len(reps), parts[0].shape[1] if parts else 0))]
    else:
        pairs = reps[_candidate_pairs(keys[reps], min_bands)]
    stats["candidates"] = stats.get("candidates", 0) + len(pairs)

    uf = _UnionFind()
    best: dict[int, float] = {}
    edges: list[tuple[int, float]] = []
    similarity = Indel.normalized_similarity
    # Confirm chunk by chunk, so that only one chunk's token lists are held at a time. Pairs
    # come sorted by their first member, which keeps a bucket's pairs in one chunk.
    all_pairs = pairs.tolist()
    for start in range(0, len(all_pairs), _CONFIRM_CHUNK):
        chunk = all_pairs[start:start + _CONFIRM_CHUNK]
        needed = sorted({x for pair in chunk for x in pair})
        lists = dict(zip(needed, _token_lists(texts_of([int(ids[p]) for p in needed]),
                                              batch_chars), strict=True))
        for a, b in chunk:
            score = similarity(lists[a], lists[b], score_cutoff=threshold)
            if score >= threshold and score > 0:
                uf.union(a, b)
                edges.append((a, score))
                best[a] = max(best.get(a, 0.0), score)
                best[b] = max(best.get(b, 0.0), score)
    stats["confirmed"] = stats.get("confirmed", 0) + len(edges)
    def members_of(rep: int) -> list[Member]:
        group = group_of(rep)
        own = 1.0 if len(group) > 1 else 0.0
        score = round(max(own, best.get(rep, 0.0)), 4)
        return [Member(*where(int(ids[pos])), score) for pos in group]

    components: dict[int, list[int]] = {}
    for rep in best:
        components.setdefault(uf.find(rep), []).append(rep)
    weakest: dict[int, float] = {}
    for a, score in edges:
        root = uf.find(a)
        weakest[root] = min(weakest.get(root, 1.0), score)
    clusters = []
    for root, rep_list in components.items():
        if label is not None and len({label[pos] for rep in rep_list
                                      for pos in group_of(rep)}) < 2:
            continue
        members = [m for rep in rep_list for m in members_of(rep)]
        clusters.append(Cluster(level, False, round(weakest[root], 4), _ordered(members)))
    for g in exact_shown:
        rep = int(first[g])
        if rep not in best:
            clusters.append(Cluster(level, True, 1.0, _ordered(members_of(rep))))
    return clusters


def _ordered(members: list[Member]) -> tuple[Member, ...]:
    return tuple(sorted(members, key=lambda m: (m.item, -1 if m.turn is None else m.turn)))


class DuplicateSearch:
    """The near-duplicate search fed a batch of dialogues at a time.

    Only what the search needs is kept between batches: per dialogue its exact fingerprint,
    token count and band keys, per turn its fingerprint, and the band keys of the supporter
    turns compared one by one, all numpy arrays (about 1 kB a dialogue). The texts are asked for
    again, a chunk of candidate pairs at a time, through ``texts_of`` in :meth:`result`, so
    memory does not grow with the text of the corpus. The clusters are those
    :func:`find_duplicates` finds over the concatenated batches: sketches depend on one
    dialogue each, and everything after them runs once over the whole corpus.
    """

    def __init__(self, *, threshold: float = 0.85, language: str = "en", turns: bool = True,
                 params: DedupParams | None = None):
        self.threshold = threshold
        self.language = language
        self.turns = turns
        self.params = params or DedupParams()
        self.dialogues = 0
        self._sketches: list[_Sketch] = []
        self._turn_counts: list[np.ndarray] = []
        self._turn_total = 0
        self._seconds = 0.0

    def add(self, dialogues: Sequence[Sequence[str]],
            supporter: Sequence[Sequence[bool]] | None = None) -> None:
        """Sketch one batch (each dialogue a sequence of turn texts; see find_duplicates)."""
        started = time.perf_counter()
        counts = np.fromiter(map(len, dialogues), dtype=np.int64, count=len(dialogues))
        if supporter is None:
            role = np.ones(int(counts.sum()), dtype=bool)
        else:
            role = np.fromiter(itertools.chain.from_iterable(supporter), dtype=bool)
        self._keep(_sketch(dialogues, role, self.params, self.language, self.turns), counts,
                   started)

    def add_joined(self, joined: Sequence[str], supporter: Sequence[bytes]) -> None:
        """Sketch one batch given as each dialogue's turn texts joined by NUL (a NUL inside a
        text blanked to a space beforehand, as the tokeniser would) and its supporter flags
        as bytes, one a turn: the same sketches as :meth:`add`, without a string a turn."""
        started = time.perf_counter()
        counts = np.fromiter(map(len, supporter), dtype=np.int64, count=len(supporter))
        role = np.frombuffer(b"".join(supporter), dtype=bool)
        self._keep(_sketch_joined(joined, counts, role, self.params, self.language,
                                  self.turns), counts, started)

    def _keep(self, sketch: _Sketch, counts: np.ndarray, started: float) -> None:
        sketch.turn_rows += self._turn_total
        self._sketches.append(sketch)
        self._turn_counts.append(counts)
        self.dialogues += len(counts)
        self._turn_total += int(counts.sum())
        self._seconds += time.perf_counter() - started

    def result(self, texts_of: Callable[[list[int]], Sequence[Sequence[str]]]) -> DedupResult:
        """The clusters; ``texts_of(indices)`` returns those dialogues' turn texts (indices in
        the order the dialogues were added), for confirming candidate pairs."""
        started = time.perf_counter()
        params, threshold = self.params, self.threshold
        parts = self._sketches
        bands = params.bins // params.rows
        turn_bands = params.turn_bins // params.turn_rows

        def cat(name: str, empty: np.ndarray) -> list[np.ndarray]:
            """One field of all batches, joined; each batch's part is let go as it is copied,
            so memory holds the sketches about once, not twice."""
            arrays = []
            for p in parts:
                arrays.append(getattr(p, name))
                setattr(p, name, empty)
            joined = np.concatenate(arrays) if arrays else empty
            arrays.clear()
            return [joined]  # a list, so that the one reference can be handed over

        dialogue_exact = cat("dialogue_exact", np.zeros(0, dtype=np.uint64))[0]
        dialogue_tokens = cat("dialogue_tokens", np.zeros(0, dtype=np.int64))[0]
        dialogue_keys = cat("dialogue_keys", np.zeros((0, bands), dtype=np.uint64))
        turn_exact = cat("turn_exact", np.zeros(0, dtype=np.uint64))[0]
        rows = cat("turn_rows", np.zeros(0, dtype=np.int64))[0]
        # the largest part (bands of every supporter turn) stays in its batches' pieces
        turn_keys = [p.turn_keys for p in parts if len(p.turn_keys)] or [
            np.zeros((0, turn_bands), dtype=np.uint64)]
        parts.clear()
        turn_counts = (np.concatenate(self._turn_counts) if self._turn_counts
                       else np.zeros(0, dtype=np.int64))
        n_dlg = self.dialogues
        timings = {"sketch": self._seconds}

        stats: dict[str, int] = {}
        live = np.flatnonzero(dialogue_tokens > 0)
        clusters = _cluster(live, dialogue_exact[live], dialogue_keys.pop()[live], 1,
                            texts_of, threshold, "dialogue", lambda i: (i, None),
                            stats, params.batch_chars)
        timings["dialogues"] = time.perf_counter() - started

        if self.turns and len(rows) > 1:
            turn_first = np.concatenate([[0], np.cumsum(turn_counts)])
            turn_dlg = np.repeat(np.arange(n_dlg), turn_counts)

            def where(t: int) -> tuple[int, int | None]:
                d = int(turn_dlg[t])
                return d, t - int(turn_first[d])

            def turn_texts(ts: list[int]) -> list[tuple[str]]:
                spots = [where(t) for t in ts]
                wanted = sorted({d for d, _ in spots})
                texts = dict(zip(wanted, texts_of(wanted), strict=True))
                return [(texts[d][i],) for d, i in spots]  # type: ignore[index]

            # Turns shared only by dialogues that are duplicates of each other are not news:
            # each turn is labelled with its dialogue's cluster, and a turn cluster must span
            # two labels.
            group_of = np.arange(n_dlg)
            for c in clusters:
                group_of[c.items] = c.items[0]
            clusters += _cluster(rows, turn_exact[rows], turn_keys,
                                 params.turn_min_bands, turn_texts, threshold, "turn", where,
                                 stats, params.batch_chars, label=group_of[turn_dlg[rows]])
            timings["turns"] = time.perf_counter() - started - timings["dialogues"]
        clusters.sort(key=lambda c: (c.level != "dialogue", c.members[0].item,
                                     c.members[0].turn or 0))
        return DedupResult(clusters=clusters, dialogues=n_dlg, turns_compared=len(rows),
                           candidates=stats.get("candidates", 0),
                           confirmed=stats.get("confirmed", 0),
                           seconds=self._seconds + time.perf_counter() - started,
                           timings=timings)


def find_duplicates(dialogues: Sequence[Sequence[str]],
                    supporter: Sequence[Sequence[bool]] | None = None, *,
                    threshold: float = 0.85, language: str = "en", turns: bool = True,
                    params: DedupParams | None = None) -> DedupResult:
    """Exact and near-duplicate clusters among ``dialogues`` (each a sequence of turn texts).

    ``supporter`` marks, per dialogue, which turns are supporter turns; only those are compared
    one by one (all turns when it is None); ``turns=False`` skips that level. ``language``
    picks the shingle sizes (Chinese is compared by characters, so its shingles are longer).
    Cluster members refer to dialogues by their index in ``dialogues``.
    """
    search = DuplicateSearch(threshold=threshold, language=language, turns=turns,
                             params=params)
    search.add(dialogues, supporter)
    return search.result(lambda indices: [dialogues[i] for i in indices])
