"""The simulated GPU backend: a ``pynvml``-compatible module driven by a YAML scenario.

``gpuwatch-gpu-exporter --nvml.scenario FILE`` uses :mod:`.pynvml` instead of nvidia-ml-py's
``pynvml``. The exporter code path is identical: the simulated module answers the same
functions with the same return types and raises nvidia-ml-py's own ``NVMLError_*`` classes.
"""
