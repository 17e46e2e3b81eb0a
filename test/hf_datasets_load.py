"""Loads qaforge exports with Hugging Face `datasets` both ways a user would, and prints what it saw.

Usage: python hf_datasets_load.py '<json list of {"name", "dir", "files": {split: path}}>'
For each export: load_dataset("json", data_files=files) and load_dataset(dir) by its dataset card,
then split names, row counts, column names, the first row's id and the general rows per split; and
the card's metadata as huggingface_hub reads it. Prints one JSON object keyed by name. Any exception
is printed as {"error": ...} for that load, so the test shows what failed.
"""
import json
import sys
from pathlib import Path

from datasets import load_dataset
from huggingface_hub import DatasetCard


def source_kinds(ds):
    if "source_kind" in ds.column_names:
        return ds["source_kind"]
    return [m["source_kind"] for m in ds["metadata"]]


def describe(dd):
    out = {}
    for split, ds in dd.items():
        kinds = source_kinds(ds)
        out[split] = {
            "rows": ds.num_rows,
            "columns": ds.column_names,
            "first_id": ds[0]["id"] if ds.num_rows else None,
            "general": sum(1 for k in kinds if k == "general"),
        }
    return out


def attempt(fn):
    try:
        return describe(fn())
    except Exception as e:  # the test asserts on the outcome, so report rather than stop
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    report = {}
    for e in json.loads(sys.argv[1]):
        card = DatasetCard.load(Path(e["dir"]) / "README.md").data.to_dict()
        report[e["name"]] = {
            "json": attempt(lambda: load_dataset("json", data_files=e["files"])),
            "card": attempt(lambda: load_dataset(e["dir"])),
            "card_data": {k: card.get(k) for k in ("license", "license_name", "license_link", "language", "task_categories", "size_categories", "configs")},
        }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
