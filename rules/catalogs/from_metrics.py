"""Write a catalog (the simple YAML of :mod:`gpuwatch.rules.catalogs`) from an exporter's /metrics text.

    python -m gpuwatch.rules.catalogs.from_metrics http://node1:9100/metrics --prefix node_ > node.yml
    python -m gpuwatch.rules.catalogs.from_metrics saved-metrics.txt > mine.yml

Unlike Prometheus' /api/v1/metadata, a scrape shows the labels: each metric gets the label names
its series carry (a metric with no series in the scrape gets no 'labels', so none is checked).
The shipped catalogs were made this way (see each file's header). Needs prometheus_client.
"""

from __future__ import annotations

import argparse
import sys
import urllib.request
from typing import Any

import yaml

SERIES_LABELS_DROPPED = {"le", "quantile"}


def families(text: str) -> list[dict[str, Any]]:
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, dict[str, Any]] = {}
    for fam in text_string_to_metric_families(text):
        kind = fam.type if fam.type != "unknown" else "untyped"
        name = fam.name
        if kind == "counter":
            name += "_total"  # the series name queries use
        entry = out.setdefault(name, {"name": name, "type": kind, "help": fam.documentation, "labels": set()})
        for s in fam.samples:
            entry.setdefault("seen", True)
            entry["labels"] |= set(s.labels) - SERIES_LABELS_DROPPED
    result = []
    for e in out.values():
        item: dict[str, Any] = {"name": e["name"], "type": e["type"]}
        if e.pop("seen", False):
            item["labels"] = sorted(e["labels"])
        if e["help"]:
            item["help"] = " ".join(e["help"].split())
        result.append(item)
    return sorted(result, key=lambda d: d["name"])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("sources", nargs="+", metavar="URL|FILE", help="/metrics URL or a saved scrape")
    ap.add_argument(
        "--prefix", action="append", default=[], help="keep only metrics with this prefix (repeatable)"
    )
    ap.add_argument("--description", default="", help="the catalog's description line")
    args = ap.parse_args(argv)
    merged: dict[str, dict[str, Any]] = {}
    for src in args.sources:
        if src.startswith(("http://", "https://")):
            with urllib.request.urlopen(src, timeout=10) as resp:
                text = resp.read().decode()
        else:
            with open(src, encoding="utf-8") as fh:
                text = fh.read()
        for f in families(text):
            if args.prefix and not f["name"].startswith(tuple(args.prefix)):
                continue
            prev = merged.get(f["name"])
            if prev is not None and "labels" in f:
                f["labels"] = sorted(set(prev.get("labels", [])) | set(f["labels"]))
            merged[f["name"]] = f
    doc: dict[str, Any] = {}
    if args.description:
        doc["description"] = args.description
    doc["metrics"] = [merged[k] for k in sorted(merged)]
    yaml.safe_dump(doc, sys.stdout, sort_keys=False, width=110, default_flow_style=None)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
