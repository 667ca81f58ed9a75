"""Stage 1 of the compiler: find the sources and parse them (thresholds, rule groups, overlay,
notifications file) into the model. Problems are collected, not raised one by one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import catalogs, model, sources, yamlsrc
from . import overlay as overlay_mod
from .api import Options
from .errors import Problems, RulesError


@dataclass
class Loaded:
    srcs: sources.Sources
    overlay: overlay_mod.Overlay
    thresholds: dict[str, Any]
    threshold_files: dict[str, str]  # threshold name -> the file that defines it
    groups: list[model.Group]
    notifications_src: sources.Source
    notifications_doc: Any = None
    catalog: catalogs.Catalog | None = None
    dropped_tests: list[str] = field(default_factory=list)


def load_yaml(src: sources.Source) -> Any:
    return yamlsrc.load(str(src.path), src.display)


def _source(path: str) -> sources.Source:
    return sources.Source(sources.Path(path), sources.display_name(sources.Path(path)))


def load(opts: Options, p: Problems) -> Loaded:
    srcs = sources.collect(opts.srcs)

    ov = overlay_mod.Overlay("")
    if opts.overlay:
        ov_src = _source(opts.overlay)
        ov = overlay_mod.parse(load_yaml(ov_src), ov_src.display, p)

    # thresholds: one namespace over all sources (the overlay's overrides come in the next stage)
    thresholds: dict[str, Any] = {}
    defined_at: dict[str, str] = {}
    for t in srcs.thresholds:
        doc = load_yaml(t)
        for k, v in model.parse_thresholds(doc, t.display, p).items():
            if k in thresholds:
                p.add(t.display, doc.where_key(k), f"threshold {k!r} is already defined in {defined_at[k]}")
                continue
            thresholds[k], defined_at[k] = v, t.display
    overlay_mod.apply_thresholds(ov, thresholds, p)

    groups: list[model.Group] = []
    for g in srcs.groups:
        grp = model.parse_group(load_yaml(g), g.display, str(g.path), p, thresholds)
        if grp is not None:
            groups.append(grp)

    # notifications: the user's replacement, the sources' one, or the pack's
    if opts.notifications:
        n_src = _source(opts.notifications)
    elif srcs.notifications:
        if len(srcs.notifications) > 1:
            raise RulesError(
                "more than one notifications file in the sources; pass one with --notifications",
                srcs.notifications[1].display,
            )
        n_src = srcs.notifications[0]
    else:
        n_src = sources.Source(sources.PACK_DIR / "notifications.yml", "rules/pack/notifications.yml")

    site_labels: list[str] = []
    cat = catalogs.build(_catalog_files(srcs, opts, p, site_labels), p, site_labels)
    return Loaded(srcs, ov, thresholds, defined_at, groups, n_src, load_yaml(n_src), cat)


PACK_KEYS = ("catalogs", "target_labels")


def _catalog_files(
    srcs: sources.Sources, opts: Options, p: Problems, site_labels: list[str]
) -> list[tuple[sources.Path, str]]:
    """The pack.yml catalogs (paths relative to it), then --catalog, then the shipped ones; the
    pack.yml 'target_labels' (labels the site's scrape configs add to every target) go to
    ``site_labels``."""
    out: list[tuple[sources.Path, str]] = []
    for pk in srcs.packs:
        doc = load_yaml(pk)
        if doc is None:
            continue
        if not isinstance(doc, yamlsrc.Map):
            p.add(pk.display, getattr(doc, "pos", None), "pack.yml must be a mapping (catalogs: [FILE, ...])")
            continue
        for k in doc:
            if k not in PACK_KEYS:
                p.add(
                    pk.display,
                    doc.where_key(k),
                    f"unknown field {k!r} in pack.yml; allowed: {', '.join(PACK_KEYS)}",
                )
        tl = doc.get("target_labels", yamlsrc.Seq())
        if isinstance(tl, yamlsrc.Seq) and all(isinstance(x, str) and model.LABEL_RE.match(x) for x in tl):
            site_labels.extend(tl)
        else:
            p.add(pk.display, doc.where("target_labels"), "'target_labels' must be a list of label names")
        cl = doc.get("catalogs", yamlsrc.Seq())
        if not isinstance(cl, yamlsrc.Seq):
            p.add(pk.display, doc.where("catalogs"), "'catalogs' must be a list of files")
            continue
        for i, name in enumerate(cl):
            path = pk.path.parent / str(name)
            if not isinstance(name, str) or not path.is_file():
                p.add(
                    pk.display,
                    cl.where(i),
                    f"catalog {name!r}: no such file (paths are relative to pack.yml)",
                )
                continue
            out.append((path, sources.display_name(path)))
    for c in opts.catalogs:
        out.append((sources.Path(c), sources.display_name(sources.Path(c))))
    if opts.default_catalogs:
        out += [(path, sources.display_name(path)) for path in catalogs.default_paths()]
    return out
