"""Near-duplicates: planted duplicates of every kind in both languages, recycled supporter
sentences, agreement with brute-force rapidfuzz, and the findings a project gets."""

from __future__ import annotations

import itertools

import pytest
from rapidfuzz.distance import Indel

from curation_app.checks import CheckConfig, DedupParams, Reference, dedup_findings
from curation_app.checks.dedup import find_duplicates
from curation_app.checks.text import tokens
from curation_app.domain import Dialogue, Role, Turn
from tests.checks.corpora import Words, build, change_words


def dialogue_pairs(clusters) -> set[tuple[int, int]]:
    return {pair for c in clusters if c.level == "dialogue"
            for pair in itertools.combinations(c.items, 2)}


@pytest.fixture(scope="module", params=["en", "zh"])
def planted(request):
    corpus = build(request.param)
    return request.param, corpus, find_duplicates(corpus.dialogues, corpus.supporter,
                                                  language=request.param)


def test_every_planted_duplicate_is_found_and_nothing_else(planted):
    _, corpus, result = planted
    assert dialogue_pairs(result.clusters) == set(corpus.planted)


def test_exact_and_reformatted_copies_are_exact_the_edited_ones_near(planted):
    _, corpus, result = planted
    by_pair = {tuple(c.items): c for c in result.clusters if c.level == "dialogue"}
    for pair, kind in corpus.planted.items():
        cluster = by_pair[pair]
        if kind in ("exact", "format"):
            assert cluster.exact and cluster.score == 1.0, kind
        else:
            assert not cluster.exact and 0.85 <= cluster.score < 1.0, kind
            assert all(m.score == cluster.score for m in cluster.members)


def test_recycled_supporter_sentences_are_clustered_turn_by_turn(planted):
    _, corpus, result = planted
    turn_clusters = [{(m.item, m.turn) for m in c.members} for c in result.clusters
                     if c.level == "turn"]
    assert sorted(map(sorted, turn_clusters)) == sorted(map(sorted, corpus.recycled))


def test_turns_shared_only_by_duplicate_dialogues_are_not_reported_again(planted):
    _, corpus, result = planted
    copies = {i for pair in corpus.planted for i in pair}
    for c in result.clusters:
        if c.level == "turn":
            assert not {m.item for m in c.members} <= copies


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_the_lsh_finds_what_brute_force_rapidfuzz_finds(lang):
    corpus = build(lang, n=60, seed=11)
    words = Words(__import__("random").Random(5), lang)
    # graded edits around the threshold: 1 to 12 changed words, whole-dialogue level
    for k, count in enumerate((1, 2, 4, 6, 8, 10, 12)):
        corpus.dialogues.append(change_words(corpus.dialogues[10 + k], words.rng, words, count))
        corpus.supporter.append([t % 2 == 1 for t in range(12)])
    result = find_duplicates(corpus.dialogues, corpus.supporter, language=lang)
    toks = [tokens("\n".join(d)) for d in corpus.dialogues]
    brute = {(i, j) for i, j in itertools.combinations(range(len(toks)), 2)
             if Indel.normalized_similarity(toks[i], toks[j]) >= 0.85}
    assert any(10 <= i < 17 for i, _ in brute) and len(brute) < 20
    assert components(brute) == {frozenset(c.items) for c in result.clusters
                                 if c.level == "dialogue"}


def components(pairs: set[tuple[int, int]]) -> set[frozenset[int]]:
    groups: list[set[int]] = []
    for a, b in pairs:
        touching = [g for g in groups if a in g or b in g]
        merged = {a, b}.union(*touching)
        groups = [g for g in groups if g not in touching] + [merged]
    return {frozenset(g) for g in groups}


def test_english_is_compared_by_words_and_chinese_by_characters():
    en = ["The meeting ran late again and I missed my bus home tonight, which made me cry."]
    en_changed = ["The meeting ran late again and I missed my train home tonight, which made "
                  "me cry."]
    zh = ["今天开会又拖到很晚，我错过了回家的公交车，心里特别难受，忍不住哭了。"]
    zh_changed = ["今天开会又拖到很晚，我错过了回家的公共车，心里特别难受，忍不住哭了。"]
    en_score = find_duplicates([en, en_changed], turns=False).clusters[0].score
    zh_score = find_duplicates([zh, zh_changed], language="zh", turns=False).clusters[0].score
    # one word of 16 differs; one character of 30 (punctuation is not compared)
    assert en_score == pytest.approx(1 - 2 / 32, abs=1e-4)
    assert zh_score == pytest.approx(1 - 2 / 60, abs=1e-4)


def test_the_threshold_decides_what_counts_as_a_near_duplicate():
    corpus = build("en", n=20, seed=2)
    pair = [c for c in find_duplicates(corpus.dialogues, threshold=0.85).clusters
            if c.level == "dialogue" and not c.exact and c.score < 0.95]
    assert pair
    stricter = find_duplicates(corpus.dialogues, threshold=0.95).clusters
    assert pair[0].items not in [c.items for c in stricter if c.level == "dialogue"]
    # no longer duplicates as wholes, the two share eleven turns, which now stand out
    assert [c.items for c in stricter if c.level == "turn"] == [pair[0].items] * 11


def test_odd_input_gives_no_clusters_and_no_crash():
    assert find_duplicates([]).clusters == []
    assert find_duplicates([["only one dialogue here"]]).clusters == []
    empty = find_duplicates([[], [""], ["   ", "!!!"], []])
    assert empty.clusters == []
    nul = find_duplicates([["a\x00b c d e f g h"], ["a b c d e f g h"]], turns=False)
    assert [c.items for c in nul.clusters] == [[0, 1]]
    surrogate = find_duplicates([["lone \ud800 surrogate here"], ["lone surrogate here"]],
                                turns=False)
    assert [c.exact for c in surrogate.clusters] == [True]


def test_one_permutation_hashing_works_with_a_batch_boundary_inside_the_corpus():
    corpus = build("en", n=40, seed=4)
    small = find_duplicates(corpus.dialogues, corpus.supporter,
                            params=DedupParams(batch_chars=500))
    large = find_duplicates(corpus.dialogues, corpus.supporter)
    assert small.clusters == large.clusters


def dlg(did: int, texts: list[str], seed: bool = False) -> Dialogue:
    turns = [Turn(Role.SUPPORTER if i % 2 else Role.SEEKER, t, ["Others"] if i % 2 else [])
             for i, t in enumerate(texts)]
    return Dialogue(turns=turns, id=did, is_seed=seed)


def test_project_findings_name_the_other_members_and_where_they_come_from():
    corpus = build("en", n=12, seed=9, plant=False)
    d = corpus.dialogues
    project = [dlg(100 + i, texts, seed=(i == 1)) for i, texts in enumerate(d[:6])]
    project.append(dlg(200, d[0]))          # exact copy of dialogue 100
    project.append(dlg(201, d[1]))          # exact copy of seed 101
    release = [Reference("record 3 of v1.json", dlg(None, d[2]))]  # type: ignore[arg-type]
    config = CheckConfig.resolve()
    found, result = dedup_findings(project, config, "en", references=release)
    by_dialogue = {f.dialogue_id: f for f in found if f.turn is None}
    assert set(by_dialogue) == {100, 200, 101, 201, 102}
    assert by_dialogue[200].rule == "dedup.exact" and by_dialogue[200].severity == "error"
    assert by_dialogue[200].message.startswith("exact duplicate of dialogue 100 (cluster ")
    assert by_dialogue[200].category == "project"
    assert by_dialogue[201].category == "seed"
    assert "seed dialogue 101" in by_dialogue[201].message
    assert by_dialogue[102].category == "release"
    assert "record 3 of v1.json" in by_dialogue[102].message
    assert by_dialogue[100].cluster == by_dialogue[200].cluster
    assert by_dialogue[100].cluster != by_dialogue[101].cluster
    assert all(f.score == 1.0 for f in by_dialogue.values())


def test_recycled_turn_findings_point_at_the_turn():
    sentence = ("It is completely understandable to feel overwhelmed when so many things "
                "happen at once in your life.")
    corpus = build("en", n=6, seed=1, plant=False)
    project = []
    for i, texts in enumerate(corpus.dialogues):
        texts = list(texts)
        if i < 3:
            texts[3] = sentence
        project.append(dlg(i + 1, texts))
    config = CheckConfig.resolve()
    found, _ = dedup_findings(project, config, "en")
    turn = [f for f in found if f.rule == "dedup.turn"]
    assert [(f.dialogue_id, f.turn, f.path) for f in turn] == [
        (1, 3, "turns[3].text"), (2, 3, "turns[3].text"), (3, 3, "turns[3].text")]
    assert turn[0].message == ("supporter turn recycled in 2 other dialogues: dialogue 2 turn 4, "
                               "dialogue 3 turn 4 (similarity 1.00, cluster 1)")
    quiet = CheckConfig.resolve(None, {"checks": {"rules": {"dedup.turn": {"enabled": False}}}})
    assert dedup_findings(project, quiet, "en")[0] == []


def test_ascii_text_is_classed_as_the_full_table_classes_it():
    from curation_app.checks.dedup import _classes, _classes_ascii

    every = "".join(map(chr, range(128))) * 2
    for fast, full in zip(_classes_ascii(every), _classes(every), strict=True):
        assert fast.tolist() == full.tolist()


def test_dialogues_joined_by_nul_sketch_as_lists_of_turns_do():
    from curation_app.checks.dedup import DuplicateSearch

    base = ["I can't sleep before the exam tomorrow and my chest feels tight",
            "That sounds exhausting; exams can make the night feel very long",
            "Yes, and my parents expect top marks from me every single time"]
    dialogues = [base, [], [""], base[:2] + ["Ünïcode 长文本 ﬁ ＡＢＣ now"], base,
                 [base[0], "a\x00b " + base[1], base[2]], [base[0], base[1] + " really"],
                 ["\ud800 lone surrogate in a turn of its own with enough words here"] * 3]
    supporter = [[i % 2 == 1 for i in range(len(d))] for d in dialogues]
    results = []
    for joined in (False, True):
        search = DuplicateSearch(threshold=0.8)
        for start in (0, 3, 5):  # three batches, one holding the empty dialogues
            part = slice(start, {0: 3, 3: 5, 5: None}[start])
            if joined:
                search.add_joined(["\x00".join(t.replace("\x00", " ") for t in d)
                                   for d in dialogues[part]],
                                  [bytes(s) for s in supporter[part]])
            else:
                search.add(dialogues[part], supporter[part])
        results.append(search.result(lambda ids: [dialogues[i] for i in ids]))
    listed, joined_result = results
    assert joined_result.clusters == listed.clusters
    assert joined_result.candidates == listed.candidates
    found = [c.items for c in listed.clusters if c.level == "dialogue"]
    assert [0, 4, 5] in found or [0, 4, 5, 6] in found, found  # copies, and the NUL one


def test_turn_sketches_taken_from_the_dialogue_shingles_equal_their_own():
    # With equal shingle sizes the turn sketches reuse the dialogues' shingles; with a
    # different dialogue size they are made on their own. The turns' keys must not differ.
    import numpy as np

    from curation_app.checks.dedup import DedupParams, _sketch

    corpus = build("en", n=60, seed=5)
    role = np.fromiter((s for d in corpus.supporter for s in d), dtype=bool)
    shared = _sketch(corpus.dialogues, role, DedupParams(shingle=3, turn_shingle=3), "en", True)
    own = _sketch(corpus.dialogues, role, DedupParams(shingle=4, turn_shingle=3), "en", True)
    assert len(shared.turn_rows) > 100
    assert np.array_equal(shared.turn_rows, own.turn_rows)
    assert np.array_equal(shared.turn_keys, own.turn_keys)
    assert not np.array_equal(shared.dialogue_keys, own.dialogue_keys)


def _findings_reference(result, config, ids, seeds, references):
    """duplicate_findings as it was: each member against all the others (quadratic)."""
    from curation_app.checks import Finding

    n = len(ids)

    def name(i):
        return references[i - n] if i >= n else f"{'seed ' if seeds[i] else ''}dialogue {ids[i]}"

    out = []
    for number, cluster in enumerate(result.clusters, start=1):
        members = cluster.members
        if not any(m.item < n for m in members):
            continue
        has_release = any(m.item >= n for m in members)
        for m in members:
            if m.item >= n:
                continue
            others = [o for o in members if (o.item, o.turn) != (m.item, m.turn)]
            seed = any(o.item < n and seeds[o.item] for o in others)
            category = "release" if has_release else "seed" if seed else "project"
            named = [name(o.item) + (f" turn {o.turn + 1}" if o.turn is not None else "")
                     for o in others[:4]]
            if len(others) > 4:
                named.append(f"{len(others) - 4} more")
            listed = ", ".join(named)
            if cluster.level == "turn":
                with_ = len({o.item for o in others if o.item != m.item})
                message = (f"supporter turn recycled in {with_} other "
                           f"dialogue{'s' if with_ != 1 else ''}: {listed} "
                           f"(similarity {m.score:.2f}, cluster {number})")
                rule, path = "dedup.turn", f"turns[{m.turn}].text"
            else:
                rule = "dedup.exact" if cluster.exact else "dedup.near"
                kind = ("exact duplicate" if cluster.exact
                        else f"near-duplicate (similarity {m.score:.2f})")
                message, path = f"{kind} of {listed} (cluster {number})", ""
            out.append(Finding(rule, config.severity(rule), ids[m.item], m.turn, path,
                               message, category=category, cluster=number, score=m.score))
    return config.keep(out)


def test_duplicate_findings_count_per_cluster_as_comparing_every_pair_did():
    # Clusters of every shape: seeds, references (a release), a dialogue twice in one turn
    # cluster, one member, many members; the findings must be word for word the same.
    import random

    from curation_app.checks import duplicate_findings
    from curation_app.checks.dedup import Cluster, DedupResult, Member
    from curation_app.presets import load_preset

    rng = random.Random(4)
    n = 40
    clusters = []
    for _ in range(60):
        level = rng.choice(["dialogue", "turn"])
        size = rng.choice([1, 2, 3, 5, 6, 12])
        items = [rng.randrange(n + 3) for _ in range(size)]
        members = tuple(Member(i, rng.randrange(4) if level == "turn" else None,
                               round(rng.random(), 4)) for i in items)
        clusters.append(Cluster(level, rng.random() < 0.3, 0.9, members))
    seeds = [rng.random() < 0.2 for _ in range(n)]
    seeds[0], seeds[1] = True, False
    # a seed listed twice beside one other dialogue: no *other* member is a seed
    clusters.append(Cluster("dialogue", True, 1.0, (Member(0, None, 1.0), Member(0, None, 1.0),
                                                    Member(1, None, 1.0))))
    result = DedupResult(clusters, n, 0)
    config = CheckConfig.resolve(load_preset("extes").checks, {})
    ids = list(range(100, 100 + n))
    refs = ["release 1.0.0 record 1", "release 1.0.0 record 2", "release 1.0.0 record 3"]
    got = duplicate_findings(result, config, ids, seeds, refs)
    assert got == _findings_reference(result, config, ids, seeds, refs)
    assert len(got) > 150 and {f.category for f in got} == {"project", "seed", "release"}
