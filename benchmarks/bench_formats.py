"""How fast the formats read, validate and write ESConv.json, as ratios within one run.

The baseline is ``jsonschema`` validating the same records (what the readers would cost if every
record went through it); the compiled checker of ``curation_app.formats.validation`` is measured
against it. Run: ``.venv/bin/python benchmarks/bench_formats.py [path/to/ESConv.json]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from jsonschema import Draft202012Validator

from curation_app import formats
from curation_app.formats.validation import compile_checker, structural_schema
from curation_app.presets import load_preset

DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "esconv" / "ESConv.json"


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        sys.exit(f"no sample at {path}; pass the path of an ESConv-style file")
    data = path.read_bytes()
    records = json.loads(data)
    vocab = load_preset("esconv")
    schema = structural_schema("esconv")
    full, fast = Draft202012Validator(schema), compile_checker(schema)

    baseline = timed(lambda: [full.is_valid(r) for r in records])
    compiled = timed(lambda: [fast(r) for r in records])
    result = formats.read_bytes(data, "esconv", vocab)
    dialogues = [r.dialogue for r in result.records]
    read = timed(lambda: formats.read_bytes(data, "esconv", vocab))
    write = timed(lambda: formats.dumps(dialogues, "esconv", vocab))
    write_lines = timed(lambda: formats.dumps(dialogues, "jsonl", vocab))

    n = len(records)
    print(f"{n} records from {path}")
    print(f"validate, jsonschema (baseline): {baseline:.3f}s")
    print(f"validate, compiled checker:      {compiled:.3f}s  ({baseline / compiled:.1f}x faster)")
    print(f"read esconv (parse, validate, convert): {read:.3f}s  "
          f"({read / baseline:.2f}x the baseline, {n / read:,.0f} records/s)")
    print(f"write esconv (indent=2):  {write:.3f}s  ({write / baseline:.2f}x the baseline)")
    print(f"write jsonl (one line each): {write_lines:.3f}s  ({write_lines / baseline:.2f}x)")


if __name__ == "__main__":
    main()
