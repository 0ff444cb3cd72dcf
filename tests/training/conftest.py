"""Fixtures for the training script's tests: a release folder and tiny models, made on the spot.

Everything runs offline (``HF_HUB_OFFLINE=1``) and single-threaded. The tests need the ``train``
extra; without it they skip and say so, except under CI (``CI=true``), where a missing extra is
a failure, so that CI cannot pass by skipping them.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["CURATION_TRAIN_THREADS"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

_MISSING = [name for name in ("torch", "transformers", "peft", "trl", "accelerate", "datasets",
                              "sacrebleu", "rouge_score", "nltk")
            if importlib.util.find_spec(name) is None]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not _MISSING or os.environ.get("CI") == "true":
        return  # under CI the tests run and fail on the missing import
    reason = (f"the train extra is not installed ({', '.join(_MISSING)} missing): "
              "pip install '.[train]'")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    if not _MISSING:
        import torch

        torch.set_num_threads(1)


@pytest.fixture
def make_release(tmp_path: Path) -> Callable[..., Path]:
    """``make_release(language, **kw)`` -> a release folder made by the real release builder
    (a project in a fresh SQLite database, built as ``curation release`` builds it)."""
    from tests.training.tiny import write_release

    counter = iter(range(1000))

    def make(language: str = "en", **kwargs: object) -> Path:
        return write_release(tmp_path / f"exports{next(counter)}", language, **kwargs)

    return make


@pytest.fixture(scope="session")
def qwen_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen2-shaped model with a ChatML chat template."""
    from tests.training.tiny import tiny_model

    return tiny_model(tmp_path_factory.mktemp("qwen") / "base", "qwen2")


@pytest.fixture(scope="session")
def llama_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama-shaped model whose tokenizer has no chat template (the plain one is used)."""
    from tests.training.tiny import tiny_model

    return tiny_model(tmp_path_factory.mktemp("llama") / "base", "llama")
