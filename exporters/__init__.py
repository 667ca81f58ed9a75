"""gpuwatch."""
