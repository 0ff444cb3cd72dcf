"""Reading a release by the contract, and labels on exactly the supporter's tokens."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation_app.training.errors import ReleaseError
from curation_app.training.examples import (
    IGNORE,
    PLAIN_TEMPLATE,
    build_examples,
    ensure_chat_template,
    split_strategies,
    with_tags,
)
from curation_app.training.model import load_tokenizer
from curation_app.training.release import load_release


def _spans(labels: list[int]) -> list[list[int]]:
    """Runs of consecutive labelled positions."""
    spans: list[list[int]] = []
    for i, label in enumerate(labels):
        if label == IGNORE:
            continue
        if spans and spans[-1][-1] == i - 1:
            spans[-1].append(i)
        else:
            spans.append([i])
    return spans


def _three_pairs(folder: Path, *, several_tags: bool = False):
    """A train dialogue of three seeker/supporter pairs and a fourth supporter message in a
    row (the builder decides which dialogues land in train, so pick by shape, not position);
    with ``several_tags``, one whose supporter turns include a multi-strategy one."""
    for record in load_release(folder).splits["train"]:
        supporter = [m for m in record.messages if m.role == "assistant"]
        if len(supporter) == 4 and (not several_tags
                                    or any(len(m.strategies) > 1 for m in supporter)):
            return record
    raise AssertionError(f"no such dialogue in {folder}")


def _decoded_spans(tokenizer, example) -> list[str]:
    return [tokenizer.decode([example.input_ids[i] for i in span], skip_special_tokens=True)
            for span in _spans(example.labels)]


def test_release_reads_every_split_and_records_the_manifest_hash(make_release):
    import hashlib

    folder = make_release("zh")
    release = load_release(folder)
    assert {s: len(r) for s, r in release.splits.items()} == {"train": 8, "validation": 2,
                                                             "test": 2}
    assert release.language == "zh" and release.project == "peconv-demo"
    assert release.manifest_sha256 == hashlib.sha256(
        (folder / "manifest.json").read_bytes()).hexdigest()
    first = release.splits["train"][0]
    assert first.messages[0].role == "system"
    assert all(m.strategies == () for m in first.messages if m.role != "assistant")


def _rewrite(path: Path, edit) -> None:
    lines = path.read_text("utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    edit(records)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")


def _rehash(folder: Path) -> None:
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    for name in manifest["files"]:
        data = (folder / name).read_bytes()
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(),
                                   "bytes": len(data)}
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def test_a_file_changed_after_the_build_is_refused(make_release):
    folder = make_release("en")
    _rewrite(folder / "chat" / "train.jsonl", lambda rs: rs[0]["messages"][1].update(
        content="edited"))
    with pytest.raises(ReleaseError, match=r"chat/train.jsonl .*sha256|chat/train.jsonl has"):
        load_release(folder)


@pytest.mark.parametrize("edit, message", [
    (lambda rs: rs[2]["messages"][1].update(role="seeker"),
     r"chat/train.jsonl record 2 \(line 3\), field messages\[1\]\.role: 'seeker' is not one of"),
    (lambda rs: rs[1]["messages"][1].update(strategies=["Affirmation"]),
     r"record 1 .*field messages\[1\]\.strategies: present on every assistant message"),
    (lambda rs: rs[0]["messages"][2].pop("strategies"),
     r"record 0 .*field messages\[2\]\.strategies"),
    (lambda rs: rs[3]["messages"][0].update(content="another prompt"),
     r"record 3 .*messages\[0\]\.content: differs from the manifest's system_prompt"),
    (lambda rs: rs[0].pop("id"), r"record 0 .*field \(record\): 'id' is a required property"),
])
def test_off_contract_records_name_the_record_and_field(make_release, edit, message):
    folder = make_release("en")
    _rewrite(folder / "chat" / "train.jsonl", edit)
    _rehash(folder)
    with pytest.raises(ReleaseError, match=message):
        load_release(folder)


def test_a_folder_that_is_no_release_is_named(tmp_path: Path, make_release):
    with pytest.raises(ReleaseError, match="no readable manifest.json"):
        load_release(tmp_path)
    folder = make_release("en")
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    manifest["format_version"] = 2
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")
    with pytest.raises(ReleaseError, match="format_version 1"):
        load_release(folder)


@pytest.mark.parametrize("language", ["zh", "en"])
@pytest.mark.parametrize("base", ["qwen_base", "llama_base"])
def test_per_turn_labels_cover_exactly_one_supporter_reply(request, make_release, language,
                                                           base):
    tokenizer = load_tokenizer(request.getfixturevalue(base))
    plain = ensure_chat_template(tokenizer)
    assert plain == (base == "llama_base")
    record = _three_pairs(make_release(language))
    supporter = [m for m in record.messages if m.role == "assistant"]
    examples = build_examples([record], tokenizer, "per-turn")
    assert len(examples) == len(supporter) == 4  # three pairs, then two supporter turns in a row
    end = tokenizer.eos_token
    for example, message in zip(examples, supporter, strict=True):
        # one labelled span, at the end, decoding to the reply itself (and the end-of-turn)
        assert len(_spans(example.labels)) == 1
        assert example.labels[-1] != IGNORE or tokenizer.decode(example.input_ids[-1:]) == "\n"
        labelled = [example.input_ids[i] for i in _spans(example.labels)[0]]
        assert tokenizer.decode(labelled, skip_special_tokens=True).strip() == message.content
        assert end in tokenizer.decode(labelled)  # the model learns to stop
        context = tokenizer.decode([t for t, lab in zip(example.input_ids, example.labels,
                                                        strict=True) if lab == IGNORE])
        assert record.messages[0].content in context  # the system prompt is context only
        assert message.content not in context


@pytest.mark.parametrize("language", ["zh", "en"])
def test_per_dialogue_labels_every_supporter_turn_and_no_seeker_token(qwen_base, make_release,
                                                                      language):
    tokenizer = load_tokenizer(qwen_base)
    records = load_release(make_release(language)).splits["train"][:3]
    examples = build_examples(records, tokenizer, "per-dialogue")
    assert len(examples) == 3
    for record, example in zip(records, examples, strict=True):
        supporter = [m.content for m in record.messages if m.role == "assistant"]
        seeker = [m.content for m in record.messages if m.role != "assistant"]
        decoded = [s.strip() for s in _decoded_spans(tokenizer, example)]
        # consecutive supporter messages form one run of labels: compare the joined text
        assert "".join(decoded).replace("\n", "") == "".join(supporter)
        labelled_text = "".join(decoded)
        assert not any(s in labelled_text for s in seeker)
        everything = tokenizer.decode(example.input_ids)
        assert everything == tokenizer.apply_chat_template(record.as_chat(), tokenize=False)


def test_strategy_tags_are_trained_in_front_of_the_reply_and_stripped_again(qwen_base,
                                                                            make_release):
    tokenizer = load_tokenizer(qwen_base)
    record = _three_pairs(make_release("zh"), several_tags=True)
    examples = build_examples([record], tokenizer, "per-turn", with_strategies=True)
    supporter = [m for m in record.messages if m.role == "assistant"]
    for example, message in zip(examples, supporter, strict=True):
        labelled = [example.input_ids[i] for i in _spans(example.labels)[0]]
        text = tokenizer.decode(labelled, skip_special_tokens=True).strip()
        assert text == with_tags(message.content, message.strategies)
        assert split_strategies(text) == (list(message.strategies), message.content)
    assert split_strategies("[Empathy][Support] 我在这里。") == (["Empathy", "Support"],
                                                               "我在这里。")
    assert split_strategies("no tags [here]") == ([], "no tags [here]")


def test_too_long_examples_keep_the_reply_and_lose_old_context(qwen_base, make_release):
    tokenizer = load_tokenizer(qwen_base)
    record = _three_pairs(make_release("en"))
    full = build_examples([record], tokenizer, "per-turn")[-1]
    cut = build_examples([record], tokenizer, "per-turn", max_length=20)[-1]
    assert len(cut.input_ids) == 20 and cut.input_ids == full.input_ids[-20:]
    assert cut.labels == full.labels[-20:]


def test_the_plain_template_is_documented_and_used_without_a_chat_template(llama_base):
    tokenizer = load_tokenizer(llama_base)
    assert not tokenizer.chat_template
    ensure_chat_template(tokenizer)
    assert tokenizer.chat_template == PLAIN_TEMPLATE
    text = tokenizer.apply_chat_template(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "U"},
         {"role": "assistant", "content": "A"}], tokenize=False)
    assert text == "### system\nS\n### user\nU\n### assistant\nA</s>\n"


LLAMA3_STYLE = (
    "{{ bos_token }}{% for m in messages %}{{ '<|' + m['role'] + '|>\\n\\n' + m['content'] | trim"
    " }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\\n\\n' }}"
    "{% endif %}")
# drops earlier assistant turns' content from the history, as "thinking" templates do
REWRITING = (
    "{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last %}"
    "{{ '[earlier reply]' }}{% else %}{{ m['role'] + ': ' + m['content'] + '\\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}")


def test_a_template_that_writes_the_bos_token_itself_gets_it_once(llama_base, make_release):
    tokenizer = load_tokenizer(llama_base)
    tokenizer.chat_template = LLAMA3_STYLE
    record = load_release(make_release("en")).splits["train"][0]
    for example in build_examples([record], tokenizer, "per-dialogue"):
        assert example.input_ids.count(tokenizer.bos_token_id) == 1
        assert example.input_ids[0] == tokenizer.bos_token_id
        replies = [m.content for m in record.messages if m.role == "assistant"]
        assert [s.strip() for s in _decoded_spans(tokenizer, example)] == replies


def test_a_template_that_rewrites_history_is_refused_with_the_reason(llama_base, make_release):
    from curation_app.training.errors import TrainingSetupError

    tokenizer = load_tokenizer(llama_base)
    tokenizer.chat_template = REWRITING
    record = load_release(make_release("en")).splits["train"][0]
    with pytest.raises(TrainingSetupError, match="rewrites earlier turns"):
        build_examples([record], tokenizer, "per-turn")
