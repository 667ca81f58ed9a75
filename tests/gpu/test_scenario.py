"""Scenario files: the packaged ones load; bad ones fail with file, line and field."""

from __future__ import annotations

import pytest

from gpuwatch.exporters.gpu.sim import pynvml as sim
from gpuwatch.exporters.gpu.sim import scenario


@pytest.mark.parametrize("name", ["default", "demo-node-a", "demo-node-b"])
def test_packaged_scenarios_load(name):
    sc = scenario.load(scenario.packaged(name))
    assert 2 <= len(sc.gpus) <= 8
    assert len({g.uuid for g in sc.gpus}) == len(sc.gpus)


def test_demo_scenarios_do_what_the_demo_needs():
    a = scenario.load(scenario.packaged("demo-node-a"))
    hot = [f for f in a.faults if f.kind == "overheat"]
    assert hot and 15 <= hot[0].at <= 25 and 75 <= hot[0].until <= 85
    b = scenario.load(scenario.packaged("demo-node-b"))
    x79 = [f for f in b.faults if f.kind == "xid" and f.xid == 79]
    assert x79 and 55 <= x79[0].at <= 65 and x79[0].until is not None
    # both demo nodes together: no UUID shared
    assert not {g.uuid for g in a.gpus} & {g.uuid for g in b.gpus}


def test_unknown_packaged_scenario():
    with pytest.raises(scenario.ScenarioError, match="known: default, demo-node-a, demo-node-b"):
        scenario.packaged("nope")


@pytest.mark.parametrize(
    "text,where",
    [
        ("gpus: []\n", ":1: gpus: expected a non-empty list"),
        ("gpus:\n  - {name: x, colour: red}\n", ":2: gpus[0].colour: unknown key"),
        (
            "gpus:\n  - name: x\n    values:\n      temperature: hot\n",
            ":4: gpus[0].values.temperature: expected a number",
        ),
        (
            "gpus:\n  - values:\n      utilization: 1.5\n",
            ":3: gpus[0].values.utilization: 1.5 is outside 0..1",
        ),
        (
            "gpus:\n  - {}\nfaults:\n  - {kind: xid, gpu: 3, xid: 79}\n",
            ":4: faults[0].gpu: there are only 1 GPUs",
        ),
        ("gpus:\n  - {}\nfaults:\n  - {kind: melt, gpu: 0}\n", ":4: faults[0].kind: 'melt' is not one of"),
        (
            "gpus:\n  - {}\nfaults:\n  - {kind: lost, gpu: 0, at: 5, until: 2}\n",
            ":4: faults[0].until: must be after at",
        ),
        (
            "gpus:\n  - {}\nfaults:\n  - {kind: lost, gpu: 0, error: Melted}\n",
            ":4: faults[0].error: one of GpuIsLost, Unknown, Timeout",
        ),
        ("gpus:\n  - {uuid: GPU-1}\n  - {uuid: GPU-1}\n", ":3: gpus[1].uuid: GPU-1 is also used by gpus[0]"),
        ("gpus:\n  - {pci_bus_id: nowhere}\n", ":2: gpus[0].pci_bus_id: 'nowhere' is not a PCI bus id"),
        ("gpus:\n  - {memory_total: 80 parsecs}\n", "gpus[0].memory_total: '80 parsecs' is not a size"),
        ("gpus:\n  - {}\n  bad indent\n", ":4: invalid YAML: could not find expected"),
        ("gpus:\n  - {}\ngpus: []\n", ":3: duplicate key 'gpus'"),
        (
            "gpus:\n  - {not_supported: [warp_drive]}\n",
            ":2: gpus[0].not_supported: unknown feature 'warp_drive'",
        ),
        ("- 1\n", ":1: a scenario is a mapping"),
    ],
)
def test_bad_scenarios_name_file_line_and_field(tmp_path, text, where):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(scenario.ScenarioError) as exc:
        scenario.load(p)
    assert str(exc.value).startswith(str(p)), str(exc.value)
    assert where in str(exc.value), str(exc.value)


def test_missing_file():
    with pytest.raises(scenario.ScenarioError, match="cannot read scenario"):
        scenario.load("/nonexistent/scenario.yaml")


def test_values_over_time():
    ctx = scenario._Ctx("x")
    v = scenario.parse_value(ctx, 1, "v", [[10, 0], [20, 100]])
    assert (v.at(0), v.at(15), v.at(30)) == (0, 50, 100)
    assert v.integral(20) == pytest.approx(500)  # 0 until 10 s, then a ramp to 100
    w = scenario.parse_value(ctx, 1, "w", {"base": 10, "amplitude": 2, "period": 4})
    assert w.at(1) == pytest.approx(12) and w.integral(4) == pytest.approx(40)
    assert scenario.parse_value(ctx, 1, "m", "2GiB", sizes=True).at(5) == 2 * 2**30


def test_sim_raises_real_pynvml_errors(tmp_path):
    import pynvml

    p = tmp_path / "s.yaml"
    p.write_text(
        "gpus:\n  - {not_supported: [fan_speed]}\nfaults:\n  - {kind: lost, gpu: 0, at: 5, error: Unknown}\n"
    )
    t = [0.0]
    sim.load(p, clock=lambda: t[0])
    with pytest.raises(pynvml.NVMLError_Uninitialized):
        sim.nvmlDeviceGetCount()
    sim.nvmlInit()
    h = sim.nvmlDeviceGetHandleByIndex(0)
    with pytest.raises(pynvml.NVMLError_NotSupported):
        sim.nvmlDeviceGetFanSpeed(h)
    with pytest.raises(pynvml.NVMLError_InvalidArgument):
        sim.nvmlDeviceGetHandleByIndex(1)
    assert isinstance(sim.nvmlDeviceGetUtilizationRates(h), pynvml.c_nvmlUtilization_t)
    assert sim.nvmlDeviceGetPciInfo(h).busId == "00000000:18:00.0"
    t[0] = 6
    with pytest.raises(pynvml.NVMLError_Unknown) as exc:
        sim.nvmlDeviceGetTemperature(h, pynvml.NVML_TEMPERATURE_GPU)
    assert exc.value.value == pynvml.NVML_ERROR_UNKNOWN
    es = sim.nvmlEventSetCreate()
    with pytest.raises(pynvml.NVMLError_Timeout):
        sim.nvmlEventSetWait(es, 10)
    sim.nvmlShutdown()
