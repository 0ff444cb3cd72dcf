"""A Chinese PECONV release: several strategies per parent turn survive every file, lengths are
counted in characters."""

from __future__ import annotations

import json
import random
from pathlib import Path

from curation_app import formats
from curation_app.domain import Dialogue, Role, Status, Turn
from curation_app.presets import load_preset
from curation_app.release.splits import SPLITS
from curation_app.release.verify import read_chat
from curation_app.services import projects as project_services
from curation_app.services import release as release_services
from curation_app.services import stats as stats_services
from curation_app.services.context import AppContext
from tests.conftest import LEAD

# Characters of the CJK block's first part (no two dialogues alike, all of them Chinese).
CHARS = "".join(chr(0x4E00 + i) for i in range(0, 6000, 3))


def zh(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(CHARS) for _ in range(n)) + "。"


def test_a_peconv_release_keeps_several_strategies_per_turn(ctx: AppContext, tmp_path: Path):
    vocab = load_preset("peconv")
    rng = random.Random(3)
    project_services.create_project(ctx.uow(), LEAD, "pc", "peconv")
    dialogues = []
    for i in range(30):
        turns = []
        for k in range(8):
            if k % 2:
                tags = rng.sample(list(vocab.strategy_names), rng.choice([1, 2]))
                turns.append(Turn(Role.SUPPORTER, zh(rng, 24), tags))
            else:
                turns.append(Turn(Role.SEEKER, zh(rng, 18)))
        dialogues.append(Dialogue(turns=turns, language="zh", topic=vocab.topics[i % 3],
                                  emotion=vocab.emotions[0], status=Status.APPROVED))
    with ctx.uow() as uow:
        ids = uow.repo.add_dialogues(uow.repo.get_project("pc"), dialogues, author="import")
        uow.commit()
    summary = release_services.build_release(ctx, LEAD, "pc", "1.0.0", out=tmp_path)
    folder = summary.path
    assert release_services.verify_release(folder).ok
    by_id = dict(zip(ids, dialogues, strict=True))
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["language"] == "zh" and manifest["strategies"] == list(vocab.strategy_names)
    for split in SPLITS:
        for row in read_chat(folder / "chat" / f"{split}.jsonl"):
            original = by_id[int(row["id"])]
            assistant = [m for m in row["messages"] if m["role"] == "assistant"]
            assert [m["strategies"] for m in assistant] == \
                [t.strategies for t in original.turns if t.role == Role.SUPPORTER]
        native = formats.read_file(folder / "native" / f"{split}.json", "peconv", vocab)
        assert [[(t.text, t.strategies) for t in p.dialogue.turns] for p in native.records] == \
            [[(t.text, t.strategies) for t in by_id[int(i)].turns]
             for i in manifest["splits"][split]["ids"]]
    stats = stats_services.release_stats(folder)
    assert stats.corpus.figures["length_unit"] == "characters"
    assert list(stats.corpus.lengths["mean_length"]) == [19.0, 25.0]  # 18/24 characters + "。"
    assert stats.corpus.figures["strategy_tags"] == sum(
        len(t.strategies) for d in dialogues for t in d.turns)
