"""Results on disk: finished chunks as they arrive, then one output file.

While a job runs, every finished chunk of rows is written at once to its own Parquet file in a
folder beside the output (``tags.parquet`` -> ``tags.parquet.parts/part-000000.parquet``), by a
rename, so a part is either whole or absent. At the end the earlier output and the parts are
merged into the output (Parquet, CSV or JSON lines by its suffix), one row per file found, and
the parts are removed. A job stopped at any moment therefore leaves every finished row on disk,
and a re-run finds them by their key (path, size, mtime_ns, model).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from library.files import KEY_COLUMNS
from library.tagger import column_type, rows_table

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
READ_ROWS = 4096  # rows per batch when reading an output back

Key = tuple[str, int, int, str]


def output_format(path: Path) -> str:
    """ "parquet", "csv" or "jsonl" from the output's suffix; ValueError for any other."""
    try:
        return FORMATS[Path(path).suffix.lower()]
    except KeyError:
        raise ValueError(f"the output must end in {', '.join(FORMATS)}; got {Path(path).name!r}") from None


def read_batches(path: Path, *, columns: list[str] | None = None) -> Iterator[pa.Table]:
    """The rows of an output or part file, a few thousand at a time (never the whole file)."""
    kind = output_format(path)
    if kind == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=READ_ROWS, columns=columns):
            yield pa.Table.from_batches([batch])
        return
    with open(path, newline="" if kind == "csv" else None, encoding="utf-8") as handle:
        records = csv.DictReader(handle) if kind == "csv" else (json.loads(line) for line in handle if line.strip())
        chunk: list[dict] = []
        for record in records:
            if kind == "csv":
                record = {name: _parse(name, text) for name, text in record.items()}
            chunk.append(record if columns is None else {name: record.get(name) for name in columns})
            if len(chunk) == READ_ROWS:
                yield rows_table(chunk)
                chunk = []
        if chunk:
            yield rows_table(chunk)


def _parse(name: str, text: str):
    """A CSV cell back to its column's type (an empty cell is null)."""
    if text == "":
        return None
    kind = column_type(name)
    return int(text) if pa.types.is_integer(kind) else float(text) if pa.types.is_floating(kind) else text


def column_names(path: Path) -> list[str]:
    """The columns of an output or part file, in order."""
    kind = output_format(path)
    if kind == "parquet":
        return list(pq.read_schema(path).names)
    with open(path, newline="", encoding="utf-8") as handle:
        first = handle.readline()
    if not first.strip():
        return []
    return next(csv.reader([first])) if kind == "csv" else list(json.loads(first))


def keys_of(table: pa.Table) -> list[Key]:
    """The key (path, size, mtime_ns, model) of every row."""
    return list(zip(*(table.column(name).to_pylist() for name in KEY_COLUMNS)))


class _Writer:
    """Writes tables of one schema into a Parquet, CSV or JSON-lines file."""

    def __init__(self, path: Path, *, schema: pa.Schema) -> None:
        self.kind, self.schema = output_format(path), schema
        if self.kind == "parquet":
            self.parquet = pq.ParquetWriter(path, schema)
            return
        self.handle = open(path, "w", newline="" if self.kind == "csv" else None, encoding="utf-8")
        if self.kind == "csv":
            self.csv = csv.writer(self.handle)
            self.csv.writerow(schema.names)

    def write(self, table: pa.Table) -> None:
        if self.kind == "parquet":
            self.parquet.write_table(table)
        elif self.kind == "csv":
            self.csv.writerows(
                [["" if value is None else value for value in row.values()] for row in table.to_pylist()]
            )
        else:
            self.handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in table.to_pylist())

    def close(self) -> None:
        if self.kind == "parquet":
            self.parquet.close()
        else:
            self.handle.close()


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table with exactly the schema's columns, in its order (a missing column is null)."""
    return pa.table(
        {
            field.name: (
                table.column(field.name) if field.name in table.column_names else pa.nulls(table.num_rows, field.type)
            )
            for field in schema
        },
        schema=schema,
    )


class ResultStore:
    """The output file and the folder of finished parts beside it."""

    def __init__(self, out: Path) -> None:
        output_format(out)
        self.out = Path(out).resolve()
        self.parts_dir = self.out.with_name(self.out.name + ".parts")

    def parts(self) -> list[Path]:
        """The finished parts, oldest first."""
        return sorted(self.parts_dir.glob("part-*.parquet")) if self.parts_dir.is_dir() else []

    def sources(self) -> list[Path]:
        """Where finished rows are: the earlier output, then the parts."""
        return ([self.out] if self.out.is_file() else []) + self.parts()

    def keys(self, paths: Iterable[Path]) -> set[Key]:
        return {
            key for path in paths for table in read_batches(path, columns=list(KEY_COLUMNS)) for key in keys_of(table)
        }

    def done_keys(self) -> set[Key]:
        """The keys of every finished row."""
        return self.keys(self.sources())

    def write_part(self, table: pa.Table) -> Path:
        """Write finished rows as the next part, whole or not at all."""
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        existing = self.parts()
        index = int(existing[-1].stem.split("-")[1]) + 1 if existing else 0
        part = self.parts_dir / f"part-{index:06d}.parquet"
        scratch = part.with_name(f".{part.name}.tmp")
        pq.write_table(table, scratch)
        os.replace(scratch, part)
        return part

    def finalize(self, files: list[dict], *, model_id: str) -> list[str]:
        """Merge into the output one row per file found (its current key), then remove the parts.

        Parameters
        ----------
        files : the files of this run, {"path", "size", "mtime_ns"} each.
        model_id : the model's identity; rows of another model are left out.

        Returns
        -------
        The paths of files that have no row (none, unless results were lost).
        """
        wanted: set[Key] = {(file["path"], file["size"], file["mtime_ns"], model_id) for file in files}
        parts, sources = self.parts(), self.sources()
        if not parts and self.out.is_file() and self.keys([self.out]) == wanted:
            return []  # the output already holds exactly these files
        names = list(dict.fromkeys(name for source in sources for name in column_names(source)))
        schema = pa.schema([(name, column_type(name)) for name in names])
        emitted: set[str] = set()
        scratch = self.out.with_name(f".{self.out.stem}.tmp{self.out.suffix}")  # the same format
        writer = _Writer(scratch, schema=schema)
        try:
            for source in sources:
                for table in read_batches(source):
                    keep = []
                    for key in keys_of(table):
                        keep.append(key in wanted and key[0] not in emitted)
                        if keep[-1]:
                            emitted.add(key[0])
                    if any(keep):
                        writer.write(conform(table.filter(pa.array(keep)), schema))
        finally:
            writer.close()
        os.replace(scratch, self.out)
        shutil.rmtree(self.parts_dir, ignore_errors=True)
        return sorted({key[0] for key in wanted} - emitted)
