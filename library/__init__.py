"""Tag a whole music library: ``python -m library tag MUSIC_DIR... --out tags.parquet``.

A resumable batch job on Ray Data, local by default and on a Ray cluster with ``--address``.
Only this package imports Ray; `model/` knows nothing of it.
"""
