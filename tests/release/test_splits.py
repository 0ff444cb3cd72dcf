"""The split assignment on its own: shares, determinism, and groups kept whole."""

from __future__ import annotations

import pytest

from curation_app.errors import InvalidInputError
from curation_app.release.splits import SPLITS, assign_splits, parse_ratios

TOPICS = {i: f"topic{i % 5}" for i in range(1, 201)}
TWINS = [(1, 2), (10, 11), (50, 51), (120, 121), (180, 181), (33, 34), (77, 78)]


def where(ids: dict[str, list[int]]) -> dict[int, str]:
    return {i: s for s in SPLITS for i in ids[s]}


def test_shares_per_topic_follow_the_ratios_and_the_seed_decides():
    a = assign_splits(TOPICS, ratios=(0.8, 0.1, 0.1), seed=1)
    assert {s: len(v) for s, v in a.ids.items()} == {"train": 160, "validation": 20, "test": 20}
    for t in range(5):
        members = [i for i in a.ids["test"] if TOPICS[i] == f"topic{t}"]
        assert len(members) == 4  # 40 per topic, 10% each
    assert a.ids == assign_splits(TOPICS, ratios=(0.8, 0.1, 0.1), seed=1).ids
    assert a.ids != assign_splits(TOPICS, ratios=(0.8, 0.1, 0.1), seed=2).ids


def test_many_small_topics_still_fill_every_split():
    # 100 dialogues over 94 topics (PECONV's sample): 10% of a topic is less than a dialogue.
    topics = {i: f"topic{min(i, 94)}" for i in range(1, 101)}
    result = assign_splits(topics, ratios=(0.8, 0.1, 0.1), seed=0)
    assert {s: len(v) for s, v in result.ids.items()} == {"train": 80, "validation": 10,
                                                          "test": 10}


def test_without_the_clusters_twins_are_separated_with_them_never():
    # The check below can fail: without telling the splitter, some pair is split.
    loose = where(assign_splits(TOPICS, ratios=(0.6, 0.2, 0.2), seed=5).ids)
    assert any(loose[a] != loose[b] for a, b in TWINS)
    for seed in range(10):
        kept = where(assign_splits(TOPICS, ratios=(0.6, 0.2, 0.2), seed=seed,
                                   clusters=TWINS).ids)
        assert all(kept[a] == kept[b] for a, b in TWINS)


def test_seed_families_stay_together_and_big_groups_go_to_train():
    families = {d: [1] for d in range(100, 130)}  # 31 dialogues around seed 1
    result = assign_splits(TOPICS, ratios=(0.8, 0.1, 0.1), seed=0, families=families)
    placed = where(result.ids)
    assert {placed[d] for d in [1, *families]} == {"train"}
    assert result.largest_group == 31 and result.joined_by_seeds == 30


@pytest.mark.parametrize("text", ["0.8,0.2", "a,b,c", "0.9,0.1,0.1", "0,0.5,0.5"])
def test_bad_ratios_are_refused(text: str):
    with pytest.raises(InvalidInputError, match="--splits"):
        parse_ratios(text)
