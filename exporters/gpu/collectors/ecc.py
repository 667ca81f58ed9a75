"""Memory health: aggregate ECC error counts, retired pages, remapped rows."""

from ...common.metric import Families
from .base import COLLECTORS, GpuCollector, GpuRead


@COLLECTORS.register(
    "ecc", default=True, help="ECC error counts, retired pages, remapped rows", needs=("gpu",)
)
class EccCollector(GpuCollector):
    def collect(self, read: GpuRead) -> Families:
        dev, out = read.dev, read.families()
        nv = dev.nv
        lb = dev.labels
        for label, etype in (
            ("corrected", nv.NVML_MEMORY_ERROR_TYPE_CORRECTED),
            ("uncorrected", nv.NVML_MEMORY_ERROR_TYPE_UNCORRECTED),
        ):
            n = dev.read("ecc", nv.nvmlDeviceGetTotalEccErrors, etype, nv.NVML_AGGREGATE_ECC)
            if n is None:
                break
            out.add("gpuwatch_gpu_ecc_errors_total", lb + (label,), float(n))
        for label, cause in (
            ("multiple_single_bit_ecc", nv.NVML_PAGE_RETIREMENT_CAUSE_MULTIPLE_SINGLE_BIT_ECC_ERRORS),
            ("double_bit_ecc", nv.NVML_PAGE_RETIREMENT_CAUSE_DOUBLE_BIT_ECC_ERROR),
        ):
            pages = dev.read("retired_pages", nv.nvmlDeviceGetRetiredPages, cause)
            if pages is None:
                break
            out.add("gpuwatch_gpu_retired_pages", lb + (label,), float(len(pages)))
        pending = dev.read("retired_pages_pending", nv.nvmlDeviceGetRetiredPagesPendingStatus)
        if pending is not None:
            out.add("gpuwatch_gpu_retired_pages_pending", lb, 1.0 if pending else 0.0)
        rows = dev.read("remapped_rows", nv.nvmlDeviceGetRemappedRows)
        if rows is not None:
            corr, unc, pend, failed = rows
            out.add("gpuwatch_gpu_remapped_rows", lb + ("correctable",), float(corr))
            out.add("gpuwatch_gpu_remapped_rows", lb + ("uncorrectable",), float(unc))
            out.add("gpuwatch_gpu_remapped_rows_pending", lb, 1.0 if pend else 0.0)
            out.add("gpuwatch_gpu_remapped_rows_failed", lb, 1.0 if failed else 0.0)
        return out
