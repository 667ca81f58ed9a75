"""Property tests: parsers fed mangled real lines never crash with anything but ParseError, and
what they return stays well-formed (label-safe words, non-negative counts)."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gpuwatch.exporters.slurm.parsers import ParseError
from gpuwatch.exporters.slurm.parsers.gres import parse_gres, parse_tres_request
from gpuwatch.exporters.slurm.parsers.reasons import normalize_reason
from gpuwatch.exporters.slurm.parsers.scontrol import parse_licenses, parse_reservations
from gpuwatch.exporters.slurm.parsers.sdiag import parse_sdiag
from gpuwatch.exporters.slurm.parsers.sinfo import parse_sinfo
from gpuwatch.exporters.slurm.parsers.squeue import parse_squeue
from gpuwatch.exporters.slurm.parsers.sshare import parse_sshare
from gpuwatch.exporters.slurm.parsers.states import parse_node_state

from .conftest import SLURM_FIXTURES

LAB = SLURM_FIXTURES / "lab-22.05"
SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LABEL = re.compile(r"^[a-z0-9_]+$")

SINFO_LINES = (LAB / "busy/sinfo.txt").read_text().splitlines() + (
    LAB / "down/sinfo.txt"
).read_text().splitlines()
SQUEUE_LINES = (LAB / "busy/squeue.txt").read_text().splitlines()
SDIAG = (LAB / "busy/sdiag.txt").read_text()


@st.composite
def mangled(draw, lines):
    """A real line, mangled: truncated, characters replaced/inserted, separators dropped or doubled."""
    line = draw(st.sampled_from(lines))
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["cut", "insert", "replace", "drop_sep", "dup_sep"]),
                st.integers(0, 400),
                st.text(max_size=5),
            ),
            max_size=4,
        )
    )
    for op, pos, txt in ops:
        pos = pos % (len(line) + 1)
        if op == "cut":
            line = line[:pos]
        elif op == "insert":
            line = line[:pos] + txt + line[pos:]
        elif op == "replace":
            line = line[:pos] + txt + line[pos + len(txt) :]
        elif op == "drop_sep":
            line = line.replace("|", "", 1)
        else:
            line = line.replace("|", "||", 1)
    return line


@SETTINGS
@given(st.lists(mangled(SINFO_LINES), min_size=1, max_size=6))
def test_sinfo_mangled(lines):
    text = "\n".join(lines)
    try:
        r = parse_sinfo(text)
    except ParseError:
        return
    for n in r.nodes.values():
        assert n.gpus_total >= 0 and n.gpus_used >= 0
        assert LABEL.match(n.state.base)
        assert all(LABEL.match(f) for f in n.state.flags)
    assert r.bad_lines <= len(text.split("\n"))


@SETTINGS
@given(st.lists(mangled(SQUEUE_LINES), min_size=1, max_size=8))
def test_squeue_mangled(lines):
    text = "\n".join(lines)
    try:
        jobs, bad = parse_squeue(text)
    except ParseError:
        return
    assert len(jobs) + bad <= len([x for x in text.split("\n") if x])  # one job per line at most
    for j in jobs:
        assert LABEL.match(j.state)
        assert j.cpus >= 0 and j.gpus >= 0


@SETTINGS
@given(st.text(max_size=40))
def test_states_never_raise(text):
    s = parse_node_state(text)
    assert LABEL.match(s.base)
    assert all(LABEL.match(f) for f in s.flags)


@SETTINGS
@given(st.text(alphabet="gpu:(),IDX0123456789-nulN/Ah", max_size=40))
def test_gres_never_raise(text):
    assert all(v >= 0 for v in parse_gres(text).values())
    assert parse_tres_request(text) >= 0


@SETTINGS
@given(st.text(max_size=120))
def test_reasons_bounded(text):
    r = normalize_reason(text)
    assert re.match(r"^[A-Za-z][A-Za-z0-9_]{0,63}$", r)


@SETTINGS
@given(st.lists(mangled(SDIAG.splitlines() or ["x"]), max_size=30))
def test_sdiag_mangled(lines):
    try:
        s = parse_sdiag("\n".join(lines))
    except ParseError:
        return
    for table in (s.rpc_by_type, s.rpc_by_user):
        for name, (count, usec) in table.items():
            assert name.strip() and isinstance(count, int) and count >= 0 and usec >= 0, (name, count, usec)
    assert all(n >= 0 for n in s.rpc_pending.values())


@SETTINGS
@given(st.text(max_size=200))
def test_small_parsers_only_raise_parse_error(text):
    for parser in (parse_licenses, parse_reservations, parse_sshare):
        try:
            parser(text)
        except ParseError:
            pass
