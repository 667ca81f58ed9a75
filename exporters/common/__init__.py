"""Pieces shared by the gpuwatch exporters: flags, logging, collector registration, HTTP serving."""
