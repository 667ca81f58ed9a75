"""NVLink error counters summed over links stay monotonic: a link that disappears keeps what it
contributed, a link's raw counter reset counts as a reset of that link only, and an NVML
re-initialisation does not start the sum again. The simulated pynvml's NVLink answers are replaced
per link (a real GPU is not available here)."""

from __future__ import annotations

from gpuwatch.exporters.gpu.sim import pynvml as sim

from .helpers import parse_metrics, value

SCENARIO = """
gpus:
  - {uuid: GPU-aaaaaaaa-0000-4000-8000-000000000000, nvlinks: 3, values: {temperature: 50}}
faults:
  - {kind: nvml_init_failure, at: 10, until: 12}
"""


def test_summed_nvlink_errors_never_go_down(make_exporter, clock, monkeypatch):
    raw = {0: 5, 1: 7, 2: 11}  # replay errors per link
    gone: set[int] = set()
    real_state = sim.nvmlDeviceGetNvLinkState

    def state(handle, link):
        if link in gone:
            sim._raise(sim._real.NVML_ERROR_INVALID_ARGUMENT)
        return real_state(handle, link)

    def counter(handle, link, kind):
        if link in gone:
            sim._raise(sim._real.NVML_ERROR_INVALID_ARGUMENT)
        return raw[link] if kind == sim._real.NVML_NVLINK_ERROR_DL_REPLAY else 0

    monkeypatch.setattr(sim, "nvmlDeviceGetNvLinkState", state)
    monkeypatch.setattr(sim, "nvmlDeviceGetNvLinkErrorCounter", counter)
    exp = make_exporter(SCENARIO, ["nvlink"], retry_min=1, retry_max=1)

    def replay() -> float:
        exp.collect_once()
        return value(parse_metrics(exp.render()), "gpuwatch_gpu_nvlink_errors_total", gpu="0", type="replay")

    assert replay() == 23  # first read: the raw sum (errors since boot)
    gone.add(1)  # link 1 disappears: it used to drop the sum to 16, a counter reset to Prometheus
    assert replay() == 23
    m = parse_metrics(exp.render())
    assert value(m, "gpuwatch_gpu_nvlink_active", gpu="0", link="1") is None  # its state series goes away
    raw[2] = 12
    assert replay() == 24
    raw[0] = 1  # link 0's own counter reset (driver reload): +1, not -4
    assert replay() == 25
    gone.discard(1)
    raw[1] = 9  # link 1 back with 2 more errors than when it left
    assert replay() == 27
    # NVML goes away and is re-initialised (new handles, links probed again): the sum carries on
    clock.t = 11
    exp.collect_once()
    assert value(parse_metrics(exp.render()), "gpuwatch_nvml_up") == 0
    clock.t = 13
    exp.collect_once()
    raw[2] = 13
    assert replay() == 28
    assert value(parse_metrics(exp.render()), "gpuwatch_nvml_up") == 1
    assert (
        value(parse_metrics(exp.render()), "gpuwatch_gpu_nvlink_errors_total", gpu="0", type="crc_flit") == 0
    )
