"""Compile time of gpuwatch-rules: the default pack, and generated packs of growing size
(goal: 1,000 alerts in under 2 s). Prints a table; ``run(quick)`` returns the numbers."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from gpuwatch.rules import compiler, writer
from gpuwatch.rules.writer import plan_for

METRICS = [
    "gpuwatch_gpu_temperature_celsius",
    "gpuwatch_gpu_power_watts",
    "gpuwatch_gpu_utilization_ratio",
    "gpuwatch_gpu_memory_used_bytes",
]


def generate(folder: Path, n: int) -> None:
    per_file = 100
    for f in range(0, n, per_file):
        lines = [f"group: gen{f // per_file}", "component: gpu", "alerts:"]
        for i in range(f, min(n, f + per_file)):
            m = METRICS[i % len(METRICS)]
            lines += [
                f"  - alert: Generated{i}",
                f'    expr: max by (node, gpu, instance) ({m}{{gpu="{i % 8}"}}) > {i}',
                "    for: 5m",
                "    severity: warning",
                f'    summary: "GPU {{{{ $labels.gpu }}}} on {{{{ $labels.node }}}} is at {{{{ $value }}}} (alert {i})"',
                "    tests:",
                f'      - series: {{\'{m}{{node="n1",gpu="{i % 8}",instance="n1:9400"}}\': \'{i + 1}x10\'}}',
                "        not_at: 2m",
                "        fires_at: 7m",
                f'        expect: [{{labels: {{node: n1, instance: "n1:9400", gpu: "{i % 8}"}}, value: {i + 1}}}]',
            ]
        (folder / f"gen{f // per_file:03d}.yml").write_text("\n".join(lines) + "\n")


def _time(srcs: list[str], out: Path, repeat: int) -> tuple[float, float, int]:
    best_c, best_w, files = 1e9, 1e9, 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        c = compiler.compile_sources(
            compiler.Options(srcs=srcs, runbook_url="https://runbooks.example.org/x")
        )
        t1 = time.perf_counter()
        plan = plan_for(c, str(out), None, None)
        writer.write(plan)
        t2 = time.perf_counter()
        best_c, best_w, files = min(best_c, t1 - t0), min(best_w, t2 - t1), len(plan.files)
    return best_c, best_w, files


def run(quick: bool = False) -> dict:
    sizes = [100, 1000] if quick else [100, 300, 1000, 3000]
    repeat = 1 if quick else 3
    results: dict = {"sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        c, w, files = _time([], Path(tmp) / "pack", repeat)
        results["default_pack"] = {"compile_s": c, "write_s": w, "files": files}
        for n in sizes:
            src = Path(tmp) / f"src{n}"
            src.mkdir()
            generate(src, n)
            c, w, files = _time([str(src)], Path(tmp) / f"out{n}", repeat)
            results["sizes"][n] = {"compile_s": c, "write_s": w, "files": files, "per_alert_ms": 1000 * c / n}
    one_k = results["sizes"][1000]
    results["goal_1000_alerts_under_2s"] = one_k["compile_s"] + one_k["write_s"] < 2.0
    return results


def main() -> None:
    quick = "--quick" in sys.argv
    r = run(quick)
    d = r["default_pack"]
    print(
        f"default pack: compile {d['compile_s'] * 1000:.0f} ms + write {d['write_s'] * 1000:.0f} ms, {d['files']} files"
    )
    print(f"{'alerts':>8} {'compile ms':>11} {'write ms':>9} {'ms/alert':>9} {'vs 100':>7}")
    base = r["sizes"][min(r["sizes"])]["compile_s"]
    for n, v in r["sizes"].items():
        print(
            f"{n:>8} {v['compile_s'] * 1000:>11.0f} {v['write_s'] * 1000:>9.0f} {v['per_alert_ms']:>9.2f} {v['compile_s'] / base:>6.1f}x"
        )
    print(
        f"goal (1,000 alerts compiled and written in < 2 s): {'met' if r['goal_1000_alerts_under_2s'] else 'NOT met'}"
        f" on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
