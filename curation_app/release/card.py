"""The dataset card: README.md with the Hugging Face YAML header, then the curation story.

The header's ``configs`` name the parquet file of each split, so
``datasets.load_dataset("<release folder>")`` loads three splits with no other argument.
"""

from __future__ import annotations

import json
import re
from typing import Any

from curation_app.release.splits import SPLITS
from curation_app.stats import ChangeStats, CorpusStats, markdown_table

LICENSE_DEFAULT = "other"


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                         (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def _yaml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML scalar


def config_name(project: str, version: str, data_digest: str | None) -> str:
    """The card's one config. ``datasets`` caches a local folder under its folder name (the
    version) and this config name, with a key that does not change with the files: under
    "default", every project's 1.0.0 would load whichever 1.0.0 was loaded first. Naming the
    project, version and a digest of the data files keeps each release's cache its own."""
    if data_digest is None:
        return "default"
    return re.sub(r"[^A-Za-z0-9._-]+", "-", f"{project}-{version}-{data_digest[:12]}")


def header(language: str, license_id: str, total: int, title: str,
           config: str = "default") -> str:
    lines = ["---", f"pretty_name: {_yaml_str(title)}", "language:", f"- {language}",
             f"license: {license_id}", "task_categories:", "- text-generation",
             "task_ids:", "- dialogue-modeling", "size_categories:",
             f"- {size_category(total)}", "configs:", f"- config_name: {config}",
             "  data_files:"]
    for split in SPLITS:
        lines += [f"  - split: {split}", f"    path: data/{split}.parquet"]
    lines.append("---")
    return "\n".join(lines)


def render_card(info: dict[str, Any], stats: CorpusStats, changes: ChangeStats,
                data_digest: str | None = None) -> str:
    """``info``: project, version, title, language, license, counts per split, system_prompt,
    models, templates, cost, annotators, reviewers, revisions, selection, split, checks,
    limitations (list of sentences)."""
    counts = info["counts"]
    total = sum(counts.values())
    figures = stats.figures
    ch = changes.to_json()
    asked = ", ".join(f"{s} {r:g}" for s, r in zip(SPLITS, info["split"]["ratios"], strict=True))
    parts = [
        header(info["language"], info.get("license") or LICENSE_DEFAULT, total, info["title"],
               config_name(info["project"], info["version"], data_digest)),
        "",
        f"# {info['project']} {info['version']}",
        "",
        f"{info['title']}: {total} dialogues curated with human review "
        f"({', '.join(f'{s} {counts[s]}' for s in SPLITS)}).",
        "",
        "## Loading",
        "",
        "```python",
        "from datasets import load_dataset",
        'ds = load_dataset("path/to/this/folder")   # train, validation, test',
        'chat = load_dataset("json", data_files={"train": "chat/train.jsonl"})',
        "```",
        "",
        "Files: `data/<split>.parquet` and `chat/<split>.jsonl` hold one dialogue per row as "
        "chat messages (the system prompt first, seeker turns as `user`, supporter turns as "
        "`assistant` with their `strategies`); `native/<split>.json` and `native/all.json` "
        f"are in the project's own {info['native_format']} format; `manifest.json` lists "
        "every file with its sha256 (`curation release verify <folder>` re-checks them).",
        "",
        "System prompt of every record:",
        "",
        f"> {info['system_prompt']}",
        "",
        "## How it was curated",
        "",
        f"- Selection: dialogues in status {', '.join(info['selection']['statuses'])}; "
        "of dialogues edited independently by two annotators (overlap copies) only one "
        "ships: the copy a lead adjudicated, else the original "
        f"({info['selection']['overlap_copies_left_out']} copies left out).",
        f"- Drafts: {_listing(info['models']) or 'none generated (imported dialogues)'}; "
        f"prompt templates {_listing(info['templates']) or '-'}; "
        f"{info['generated']} of {total} dialogues were machine drafts, "
        f"generation cost ${info['cost_usd']:.2f} in all.",
        f"- People: {info['annotators']} annotators saved {info['revisions']} revisions; "
        f"{info['reviewers']} reviewers approved or returned dialogues.",
        f"- Human changes to the drafts: {ch['edited']} of {ch['dialogues']} dialogues "
        f"({ch['edited_share']}%) were changed by people; {ch['turns_changed']} of "
        f"{ch['turns_in_drafts']} draft turns ({ch['turns_changed_share']}%) were rewritten "
        f"(median edit distance {ch['edit_distance_median']} characters), "
        f"{ch['turns_added']} turns added, {ch['turns_removed']} removed, "
        f"{ch['strategy_tags_changed']} strategy tags changed.",
        f"- Checks: {info['checks']['errors']} errors (a release is refused while any remain), "
        f"{info['checks']['warnings']} warnings on the released dialogues.",
        f"- Splits: {asked} asked, seed {info['split']['seed']}, "
        f"stratified by {info['topic_label']}; "
        f"near-duplicate clusters ({info['split']['near_duplicate_clusters']}) and seed "
        "families are kept within one split, so no test dialogue has a near twin in train.",
        "",
        "## Statistics",
        "",
        markdown_table(stats.overview),
        "",
        "### Utterance length per role",
        "",
        markdown_table(stats.lengths),
        "",
        f"### Per {info['topic_label']}",
        "",
        markdown_table(stats.topics),
        "",
        "### Strategies",
        "",
        markdown_table(stats.strategies),
        "",
        "### Strategy shares (%) across four conversation phases",
        "",
        markdown_table(stats.phases, index=True),
        "",
        "### Most frequent strategy transitions (adjacent repeats merged, per mille)",
        "",
        markdown_table(stats.transitions) if len(stats.transitions) else "(none)",
        "",
        *(["## Quality evaluation", "", info["quality"]] if info.get("quality") else []),
        "## Known limitations",
        "",
        *(f"- {line}" for line in info["limitations"] or ["none recorded"]),
        "",
        f"Mean utterance length is in {figures['length_unit']}.",
        "",
    ]
    return "\n".join(parts)


def _listing(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} ({v})" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))
