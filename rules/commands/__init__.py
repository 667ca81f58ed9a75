"""The gpuwatch-rules commands, one module each (registered in :mod:`gpuwatch.rules.cli`)."""
