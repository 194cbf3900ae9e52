"""Training settings written once: a frozen dataclass whose fields generate the command line.

    @dataclasses.dataclass(frozen=True)
    class Settings:
        epochs: int = setting(24, "upper bound; the epoch with the best valid score is kept")
        augment: tuple[str, ...] = setting(("noise", "mp3"), "offline copies of each clip")

    parser = argparse.ArgumentParser()
    add_arguments(parser, Settings)          # --epochs N, --augment noise,mp3 (or 'none')
    settings = from_arguments(Settings, parser.parse_args())

Each field becomes ``--field-name``: ints and floats parse as such, booleans get ``--name`` and
``--no-name``, tuples of strings are comma-separated ('none' for an empty tuple). The help text
is the field's one-line comment, given to `setting`.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any, TypeVar

T = TypeVar("T")


def setting(default: Any, help: str) -> Any:
    """A dataclass field with its default and a one-line description (the command line's help)."""
    return dataclasses.field(default=default, metadata={"help": help})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_tuple(text: str) -> tuple[str, ...]:
    return () if text.strip().lower() in ("", "none") else tuple(part.strip() for part in text.split(",") if part.strip())


def add_arguments(parser: argparse.ArgumentParser, settings_class: type) -> None:
    """One option per field of ``settings_class``, defaulting to the field's default."""
    hints = typing.get_type_hints(settings_class)
    for field in dataclasses.fields(settings_class):
        kind = hints[field.name]
        help_text = field.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(_flag(field.name), action=argparse.BooleanOptionalAction, default=field.default,
                                help=help_text)
        elif typing.get_origin(kind) is tuple:
            parser.add_argument(_flag(field.name), type=_parse_tuple, default=field.default, metavar="A,B",
                                help=f"{help_text} (comma-separated; 'none' for none)")
        elif kind in (int, float, str):
            parser.add_argument(_flag(field.name), type=kind, default=field.default, help=help_text)
        else:
            raise TypeError(f"{settings_class.__name__}.{field.name}: unsupported setting type {kind!r}")


def from_arguments(settings_class: type[T], arguments: argparse.Namespace) -> T:
    """The settings instance that parsed command-line ``arguments`` describe."""
    return settings_class(**{field.name: getattr(arguments, field.name) for field in dataclasses.fields(settings_class)})


def as_dict(settings: Any) -> dict[str, Any]:
    """JSON-ready values of a settings instance (tuples become lists), for the artifact's metadata."""
    return {name: list(value) if isinstance(value, tuple) else value for name, value in dataclasses.asdict(settings).items()}
