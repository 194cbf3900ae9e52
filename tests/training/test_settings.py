"""`training.settings`: a settings dataclass generates its command line, and parsing nothing gives its defaults."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Literal

import pytest

from model.artifact import read_metadata
from training import compare, pretrain, train
from training.settings import add_arguments, as_dict, from_arguments, setting


@dataclasses.dataclass(frozen=True)
class Example:
    count: int = setting(3, "an int")
    rate: float = setting(0.5, "a float, 5 % of something")
    name: str = setting("", "a string")
    enabled: bool = setting(True, "a boolean")
    mode: Literal["fast", "slow"] = setting("fast", "a choice")
    words: tuple[str, ...] = setting(("a", "b"), "strings")
    seeds: tuple[int, ...] = setting((1, 2), "ints")


def parse(settings_class: type, *arguments: str):
    parser = argparse.ArgumentParser()
    add_arguments(parser, settings_class)
    return from_arguments(settings_class, parser.parse_args(list(arguments)))


def test_no_arguments_give_the_dataclass_defaults():
    assert parse(Example) == Example()


def test_values_parse_to_the_field_types():
    parsed = parse(
        Example, "--count", "7", "--rate", "2", "--name", "x", "--mode", "slow", "--words", "c, d,e", "--seeds", "4,5"
    )
    assert parsed == Example(count=7, rate=2.0, name="x", mode="slow", words=("c", "d", "e"), seeds=(4, 5))
    assert type(parsed.count) is int and type(parsed.rate) is float
    assert all(type(seed) is int for seed in parsed.seeds)


@pytest.mark.parametrize("text", ["none", "None", ""])
def test_none_is_an_empty_tuple(text):
    assert parse(Example, "--words", text).words == ()


def test_booleans_have_both_flags():
    assert parse(Example, "--no-enabled").enabled is False
    assert parse(Example, "--enabled").enabled is True
    assert dataclasses.replace(Example(), enabled=False) == parse(Example, "--no-enabled")


@pytest.mark.parametrize("arguments", [["--mode", "medium"], ["--count", "2.5"], ["--seeds", "1,x"], ["--rate", "?"]])
def test_bad_values_are_refused_with_a_message(arguments, capsys):
    parser = argparse.ArgumentParser(prog="p")
    add_arguments(parser, Example)
    with pytest.raises(SystemExit) as exited:
        parser.parse_args(arguments)
    assert exited.value.code == 2
    assert arguments[0] in capsys.readouterr().err


def test_the_help_is_each_fields_comment(capsys):
    parser = argparse.ArgumentParser(prog="p")
    add_arguments(parser, Example)
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for field in dataclasses.fields(Example):
        assert "--" + field.name.replace("_", "-") in text
        assert field.metadata["help"] in text  # "5 %" survives argparse's %-formatting
    assert "--no-enabled" in text and "{fast,slow}" in text


def test_an_unsupported_type_is_refused():
    @dataclasses.dataclass(frozen=True)
    class Unsupported:
        values: list = setting((), "not a setting type")

    with pytest.raises(TypeError, match="Unsupported.values"):
        add_arguments(argparse.ArgumentParser(), Unsupported)


def test_as_dict_is_json_ready_and_round_trips():
    values = json.loads(json.dumps(as_dict(Example())))
    assert values["words"] == ["a", "b"]
    assert (
        Example(**{name: tuple(value) if isinstance(value, list) else value for name, value in values.items()})
        == Example()
    )


@pytest.mark.parametrize("settings_class", [train.Settings, pretrain.PretrainSettings, compare.SeedCNNSettings])
def test_every_training_cli_defaults_to_its_dataclass(settings_class):
    assert parse(settings_class) == settings_class()
    assert all(field.metadata.get("help") for field in dataclasses.fields(settings_class))


def test_train_options_and_settings_side_by_side():
    args = train.parse_args(
        [
            "--data",
            "gtzan",
            "--smoke",
            "--augment",
            "none",
            "--no-class-balance",
            "--mixup-alpha",
            "0",
            "--choose-on",
            "clean",
            "--n-mfcc",
            "13",
        ]
    )
    assert args.smoke and not args.no_cache
    assert from_arguments(train.Settings, args) == dataclasses.replace(
        train.Settings(), augment=(), class_balance=False, mixup_alpha=0.0, choose_on="clean"
    )
    assert train.config_from_args(args).n_mfcc == 13
    assert from_arguments(train.Settings, train.parse_args(["--data", "gtzan"])) == train.Settings()


def test_pretraining_shares_the_networks_settings():
    shared = ("seed", "width", "time_masks", "coeff_masks", "cell_masks")
    assert all(getattr(pretrain.PretrainSettings(), name) == getattr(train.Settings(), name) for name in shared)


def test_the_defaults_are_the_committed_models_recipe():
    from training.distill import DistillSettings

    training = read_metadata().training
    assert training["recipe"] == "training.distill"
    assert training["settings"] == as_dict(DistillSettings())


def test_an_unknown_augmentation_is_refused_before_any_work(capsys):
    assert train.main(["--data", "never-read", "--augment", "noise,bogus"]) == 2
    assert "unknown augmentation bogus" in capsys.readouterr().err
