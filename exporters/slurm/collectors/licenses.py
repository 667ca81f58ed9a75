"""licenses: configured, used, free and reserved licenses (scontrol show licenses -o; opt-in)."""

from __future__ import annotations

from ...common.collector import Collector
from .. import cycle as cmds
from ..metrics import family
from .base import COLLECTORS


@COLLECTORS.register(
    "licenses", default=False, help="License totals and use (scontrol show licenses)", needs=("licenses",)
)
class LicensesCollector(Collector[cmds.Cycle]):
    def collect(self, cycle):
        lics = cmds.licenses(cycle)
        fams = {k: family(f"gpuwatch_slurm_license_{k}") for k in ("configured", "used", "free", "reserved")}
        for lic in sorted(lics, key=lambda x: x.name):
            for k in fams:
                fams[k].add_metric([lic.name], getattr(lic, "total" if k == "configured" else k))
        return list(fams.values())
