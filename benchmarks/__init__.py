"""Benchmark of the whole pipeline, from decoding to the served page: ``python -m benchmarks``.

Every figure is measured in one run on the same clips (a whole 30-s GTZAN clip and a 5-minute
recording built from GTZAN clips at run time), so the ratios between them are fair. Speed
targets live here only; tests check correctness, never time.
"""
