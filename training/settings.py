"""Training settings written once: a frozen dataclass whose fields generate the command line.

    @dataclasses.dataclass(frozen=True)
    class Settings:
        epochs: int = setting(24, "upper bound; the epoch with the best valid score is kept")
        augment: tuple[str, ...] = setting(("noise", "mp3"), "offline copies of each clip")
        choose_on: Literal["clean", "robust"] = setting("robust", "what the epoch is chosen on")

    parser = argparse.ArgumentParser()
    add_arguments(parser, Settings)          # --epochs N, --augment noise,mp3 (or 'none'), --choose-on {clean,robust}
    settings = from_arguments(Settings, parser.parse_args())

Each field becomes ``--field-name``: ints, floats and strings parse as such, a ``Literal`` gives
the choices, booleans get ``--name`` and ``--no-name``, tuples (``tuple[str, ...]`` or
``tuple[int, ...]``) are comma-separated ('none' for an empty tuple). The help text is the
field's one-line comment, given to `setting`.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from collections.abc import Callable
from typing import Any, Literal, TypeVar

T = TypeVar("T")


def setting(default: Any, help: str) -> Any:
    """A dataclass field with its default and a one-line description (the command line's help)."""
    return dataclasses.field(default=default, metadata={"help": help})


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _tuple_parser(item: Callable[[str], Any]) -> Callable[[str], tuple]:
    def parse(text: str) -> tuple:
        if text.strip().lower() in ("", "none"):
            return ()
        return tuple(item(part.strip()) for part in text.split(",") if part.strip())

    parse.__name__ = f"comma-separated {item.__name__}"  # argparse names the type in its error message
    return parse


def add_arguments(parser: argparse.ArgumentParser, settings_class: type) -> None:
    """One option per field of ``settings_class``, defaulting to the field's default."""
    hints = typing.get_type_hints(settings_class)
    for field in dataclasses.fields(settings_class):
        kind, flag = hints[field.name], _flag(field.name)
        help_text = field.metadata.get("help", "").replace("%", "%%")  # argparse %-formats help
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=field.default, help=help_text)
        elif typing.get_origin(kind) is Literal:
            choices = typing.get_args(kind)
            parser.add_argument(flag, type=type(choices[0]), choices=choices, default=field.default, help=help_text)
        elif typing.get_origin(kind) is tuple and typing.get_args(kind)[0] in (int, float, str):
            parser.add_argument(
                flag,
                type=_tuple_parser(typing.get_args(kind)[0]),
                default=field.default,
                metavar="A,B",
                help=f"{help_text} (comma-separated; 'none' for none)",
            )
        elif kind in (int, float, str):
            parser.add_argument(flag, type=kind, default=field.default, help=help_text)
        else:
            raise TypeError(f"{settings_class.__name__}.{field.name}: unsupported setting type {kind!r}")


def from_arguments(settings_class: type[T], arguments: argparse.Namespace) -> T:
    """The settings instance that parsed command-line ``arguments`` describe."""
    names = [field.name for field in dataclasses.fields(settings_class)]
    return settings_class(**{name: getattr(arguments, name) for name in names})


def as_dict(settings: Any) -> dict[str, Any]:
    """JSON-ready values of a settings instance (tuples become lists), for the artifact's metadata."""
    return {
        name: list(value) if isinstance(value, tuple) else value for name, value in dataclasses.asdict(settings).items()
    }
