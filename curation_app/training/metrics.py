"""The automatic metrics of ExTES's table 6, on a 0-100 scale like the paper's (PPL aside).

Maintained implementations wherever one exists:

- BLEU-2 / BLEU-4: sacrebleu's corpus BLEU (``max_ngram_order`` 2 and 4, its default ``exp``
  smoothing) on our tokens, joined by spaces, with sacrebleu's own tokenizer off.
- ROUGE-L: rouge-score's ``rougeL`` F-measure per response, averaged, fed our tokens (its built-in
  tokenizer drops every non-ASCII character, so Chinese would vanish).
- METEOR: nltk's ``meteor_score`` per response, averaged. Its synonym stage needs WordNet 3.0,
  which nltk cannot download here: :func:`find_wordnet` uses nltk's own data when installed, else
  Debian's ``wordnet-base`` files (``/usr/share/wordnet``, or ``$CURATION_WORDNET``). Without
  either, METEOR runs with exact and stem matching only and ``metrics.json`` says so
  (``meteor_synonyms: null``).

Hand-written because no maintained package computes them:

- Vector Extrema (Forgues et al., 2014): per response, for each embedding dimension the value of
  largest magnitude over its tokens' vectors; the cosine of the response's and the reference's
  extrema vectors, averaged. The vectors are the *base model's input embeddings* over the model
  tokenizer's ids (no external word vectors are downloaded).
- Distinct-n (Li et al., 2016): distinct n-grams over all n-grams of all generated responses.

Tokens: Chinese by characters (every non-space character), English as nltk tokenises words
(Punkt sentence splitting with its untrained default parameters, then nltk's word tokenizer;
no downloaded data needed), lowercased.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

DEBIAN_WORDNET = Path("/usr/share/wordnet")

# WordNet 3.0's lexicographer files (lexnames(5WN)); Debian's wordnet-base leaves this index out
# and nltk's reader insists on it.
_LEXNAMES = (
    "adj.all 3", "adj.pert 3", "adv.all 4", "noun.Tops 1", "noun.act 1", "noun.animal 1",
    "noun.artifact 1", "noun.attribute 1", "noun.body 1", "noun.cognition 1",
    "noun.communication 1", "noun.event 1", "noun.feeling 1", "noun.food 1", "noun.group 1",
    "noun.location 1", "noun.motive 1", "noun.object 1", "noun.person 1", "noun.phenomenon 1",
    "noun.plant 1", "noun.possession 1", "noun.process 1", "noun.quantity 1", "noun.relation 1",
    "noun.shape 1", "noun.state 1", "noun.substance 1", "noun.time 1", "verb.body 2",
    "verb.change 2", "verb.cognition 2", "verb.communication 2", "verb.competition 2",
    "verb.consumption 2", "verb.contact 2", "verb.creation 2", "verb.emotion 2",
    "verb.motion 2", "verb.perception 2", "verb.possession 2", "verb.social 2",
    "verb.stative 2", "verb.weather 2", "adj.ppl 3",
)
_WORDNET_FILES = ("data.noun", "data.verb", "data.adj", "data.adv", "index.noun",
                  "index.verb", "index.adj", "index.adv", "noun.exc", "verb.exc", "adj.exc",
                  "adv.exc")


# ---- tokens -----------------------------------------------------------------------------------

@cache
def _english_tokenizers() -> tuple[Any, Any]:
    from nltk.tokenize import NLTKWordTokenizer, PunktSentenceTokenizer

    return PunktSentenceTokenizer(), NLTKWordTokenizer()


def tokenize(text: str, language: str) -> list[str]:
    """Chinese: characters; English: nltk words, lowercased."""
    if language.startswith("zh"):
        return [c for c in text if not c.isspace()]
    sentences, words = _english_tokenizers()
    return [w.lower() for s in sentences.tokenize(text) for w in words.tokenize(s)]


# ---- WordNet for METEOR -----------------------------------------------------------------------

def _debian_root() -> Path | None:
    root = Path(os.environ.get("CURATION_WORDNET") or DEBIAN_WORDNET)
    if all((root / f).is_file() for f in _WORDNET_FILES):
        return root
    return None


@cache
def find_wordnet() -> tuple[Any, str] | None:
    """A WordNet reader and a description of where it came from, or None."""
    import nltk
    try:
        nltk.data.find("corpora/wordnet")
        from nltk.corpus import wordnet

        wordnet.ensure_loaded()
        return wordnet, "nltk data: corpora/wordnet"
    except LookupError:
        pass
    root = _debian_root()
    if root is None:
        return None
    reader_root = root
    if not (root / "lexnames").is_file():
        # nltk's reader refuses paths that resolve outside its root, so links will not do: a
        # copy of the files (about 30 MB, once) plus the one index they lack, in the user cache
        cache_home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        reader_root = cache_home / "curation-app" / "wordnet-3.0"
        if not (reader_root / "lexnames").is_file():
            staging = Path(tempfile.mkdtemp(prefix="wordnet-", dir=_mkdir(reader_root.parent)))
            for name in _WORDNET_FILES:
                shutil.copyfile(root / name, staging / name)
            (staging / "lexnames").write_text(
                "".join(f"{i:02d}\t{line.replace(' ', chr(9))}\n"
                        for i, line in enumerate(_LEXNAMES)), "utf-8")
            try:
                staging.rename(reader_root)
            except OSError:  # another process got there first
                shutil.rmtree(staging, ignore_errors=True)
    # nltk reads corpora only under its data roots
    if str(reader_root) not in nltk.data.path:
        nltk.data.path.append(str(reader_root))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not needed
        return _WordNet30(str(reader_root), None), f"WordNet 3.0 files at {root}"


def _wordnet_reader_class() -> Any:
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class WordNet30(WordNetCorpusReader):
        """These files are WordNet 3.0 itself: no mapping to nltk's copy of 3.0 is needed (the
        stock reader would try to load that copy for the mapping, which is the one missing)."""

        def map_wn(self, version: str = "wordnet") -> None:
            return None

    return WordNet30


def _WordNet30(root: str, omw: Any) -> Any:  # noqa: N802 - reads as the class it builds
    return _wordnet_reader_class()(root, omw)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


class _NoSynonyms:
    """Stands in for WordNet when none is installed: METEOR's synonym stage then finds none."""

    @staticmethod
    def synsets(*_args: Any, **_kwargs: Any) -> list[Any]:
        return []


# ---- the metrics ------------------------------------------------------------------------------

def _joined(texts: Sequence[str], language: str) -> list[str]:
    return [" ".join(tokenize(t, language)) for t in texts]


def bleu(hypotheses: Sequence[str], references: Sequence[str], language: str,
         order: int) -> float:
    from sacrebleu.metrics import BLEU

    metric = BLEU(tokenize="none", max_ngram_order=order)
    return float(metric.corpus_score(_joined(hypotheses, language),
                                     [_joined(references, language)]).score)


class _Presplit:
    """rouge-score's tokenizer interface over text we already tokenised and joined by spaces."""

    @staticmethod
    def tokenize(text: str) -> list[str]:
        return text.split()


def rouge_l(hypotheses: Sequence[str], references: Sequence[str], language: str) -> float:
    from rouge_score.rouge_scorer import RougeScorer

    scorer = RougeScorer(["rougeL"], tokenizer=_Presplit())
    scores = [scorer.score(r, h)["rougeL"].fmeasure
              for h, r in zip(_joined(hypotheses, language), _joined(references, language),
                              strict=True)]
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def meteor(hypotheses: Sequence[str], references: Sequence[str], language: str,
           *, synonyms: bool = True) -> tuple[float, str | None]:
    """Mean METEOR and where its synonyms came from (None: exact and stem matching only)."""
    from nltk.translate.meteor_score import meteor_score

    found = find_wordnet() if synonyms else None
    wordnet, source = found if found else (_NoSynonyms(), None)
    scores = [meteor_score([tokenize(r, language)], tokenize(h, language), wordnet=wordnet)
              for h, r in zip(hypotheses, references, strict=True)]
    return (100.0 * sum(scores) / len(scores) if scores else 0.0), source


def distinct(hypotheses: Sequence[str], language: str, n: int) -> float:
    grams = [tuple(tokens[i:i + n]) for tokens in (tokenize(h, language) for h in hypotheses)
             for i in range(len(tokens) - n + 1)]
    return 100.0 * len(set(grams)) / len(grams) if grams else 0.0


def _extrema(vectors: Any) -> Any:
    top = vectors.max(axis=0)
    bottom = vectors.min(axis=0)
    return (top >= -bottom) * top + (top < -bottom) * bottom


def vector_extrema(hypotheses: Sequence[str], references: Sequence[str],
                   embed: Any, encode: Any) -> float:
    """Mean cosine of extrema vectors; ``embed`` is a (vocab, dim) numpy array, ``encode`` maps
    a text to token ids. A response without tokens scores 0."""
    import numpy as np

    scores = []
    for h, r in zip(hypotheses, references, strict=True):
        hid, rid = encode(h), encode(r)
        if not hid or not rid:
            scores.append(0.0)
            continue
        a, b = _extrema(embed[hid]), _extrema(embed[rid])
        norm = float(np.linalg.norm(a) * np.linalg.norm(b))
        scores.append(float(a @ b) / norm if norm else 0.0)
    return 100.0 * sum(scores) / len(scores) if scores else 0.0


def strategy_accuracy(predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]]) -> float:
    """Share of supporter turns whose generated tags equal the reference tags (as sets)."""
    pairs = list(zip(predicted, gold, strict=True))
    if not pairs:
        return 0.0
    return 100.0 * sum(set(p) == set(g) for p, g in pairs) / len(pairs)


def perplexity(total_nll: float, tokens: int) -> float:
    return math.exp(total_nll / tokens) if tokens else float("nan")


def text_metrics(hypotheses: Sequence[str], references: Sequence[str], language: str, *,
                 embed: Any, encode: Any) -> dict[str, Any]:
    """Every metric that compares generated responses with the references."""
    value, source = meteor(hypotheses, references, language)
    return {
        "meteor": value,
        "bleu_2": bleu(hypotheses, references, language, 2),
        "bleu_4": bleu(hypotheses, references, language, 4),
        "rouge_l": rouge_l(hypotheses, references, language),
        "vector_extrema": vector_extrema(hypotheses, references, embed, encode),
        "distinct_1": distinct(hypotheses, language, 1),
        "distinct_2": distinct(hypotheses, language, 2),
        "distinct_3": distinct(hypotheses, language, 3),
        "meteor_synonyms": source,
    }


COLUMNS: tuple[tuple[str, str], ...] = (
    ("ppl", "PPL"), ("meteor", "METEOR"), ("bleu_2", "B-2"), ("bleu_4", "B-4"),
    ("rouge_l", "R-L"), ("vector_extrema", "Extrema"), ("distinct_1", "D-1"),
    ("distinct_2", "D-2"), ("distinct_3", "D-3"), ("strategy_accuracy", "Strategy acc."),
)


def table(rows: Sequence[tuple[str, str, dict[str, Any]]]) -> str:
    """ExTES table 6's layout: model, variant, then the metrics; one row per evaluated model."""
    columns = [c for c in COLUMNS if any(r[2].get(c[0]) is not None for r in rows)]
    head = ["Model", "Variant", *[label for _, label in columns]]
    body = [[model, variant, *[_fmt(m.get(key)) for key, _ in columns]]
            for model, variant, m in rows]
    widths = [max(len(str(line[i])) for line in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w)
                       for i, (v, w) in enumerate(zip(line, widths, strict=True)))
             for line in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    return str(value)
