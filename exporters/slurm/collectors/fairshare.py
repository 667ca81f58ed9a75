"""fairshare: fair-share factor and usage per account/user (sshare -a -P; needs slurmdbd; opt-in)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from .base import COLLECTORS


@COLLECTORS.register(
    "fairshare",
    default=False,
    help="Fair-share factor and usage per account/user (sshare)",
    needs=("sshare",),
)
class FairshareCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        shares = cmds.sshare(cycle)
        fams = {
            k: family(f"gpuwatch_slurm_{k}")
            for k in ("fairshare", "share_normalized", "share_effective_usage", "share_raw_usage")
        }
        for s in shares:
            labels = [s.account or "root", s.user]
            for key, value in (
                ("fairshare", s.fairshare),
                ("share_normalized", s.norm_shares),
                ("share_effective_usage", s.effective_usage),
                ("share_raw_usage", s.raw_usage),
            ):
                if value is not None:
                    fams[key].add_metric(labels, value)
        return list(fams.values())
