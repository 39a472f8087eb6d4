"""The operator guide's configuration reference matches the config model, key for key.

An operator configures filebridge from that reference alone, so every key the model
accepts must be there with its true default, and nothing may be there that the model
would refuse as an unknown key.
"""

from __future__ import annotations

import tomllib
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from filebridge.config import BridgeConfig, PartnerConfig, PartnerPolicy, config_from_dict
from tests.docs.guides import OPERATOR_GUIDE, code_blocks, marked_tables, only_code, read

#: fields that are not keys a user writes: PartnerConfig.name is the table's name
NOT_KEYS: dict[type[BaseModel], set[str]] = {PartnerConfig: {"name"}}
#: the smallest valid table of each model, so a single key can be tried on its own
MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    PartnerConfig: {"name": "p", "transport": "local"},
}


def models_in(annotation: Any) -> list[type[BaseModel]]:
    """The config models in an annotation: ``X``, ``list[X]``, ``dict[str, X]``, ``X | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found += models_in(argument)
    return found


def is_table(annotation: Any) -> bool:
    """A field whose value is a TOML table of its own (``[notify.email]``), not a key."""
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def user_keys(model: type[BaseModel]) -> set[str]:
    """The keys a user may write in this model's table (a partner: beyond the policy keys)."""
    keys = {name for name, field in model.model_fields.items() if not is_table(field.annotation)}
    if model is PartnerConfig:
        keys -= set(PartnerPolicy.model_fields)
    return keys - NOT_KEYS.get(model, set())


def config_models() -> set[type[BaseModel]]:
    """Every model reachable from the top of the config that has keys of its own."""
    found: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [BridgeConfig]
    while todo:
        model = todo.pop()
        for field in model.model_fields.values():
            for sub in models_in(field.annotation):
                if sub not in found:
                    found.add(sub)
                    todo.append(sub)
    return {model for model in found if user_keys(model)}


MODELS = {model.__name__: model for model in config_models()}
TABLES = marked_tables(read(OPERATOR_GUIDE), "config-table")


def documented_keys(name: str) -> list[str]:
    return [only_code(row["key"]) for row in TABLES[name]]


def test_every_config_model_has_a_reference_table_and_no_table_names_another() -> None:
    # given the models the config is built from, when the guide's tables are read
    # then there is one table per model with keys, and no table for anything else
    assert set(TABLES) == set(MODELS)
    assert {"JournalConfig", "PartnerPolicy", "PartnerConfig", "EmailConfig", "WebhookConfig",
            "EscalationLevel", "DaemonConfig"} <= set(TABLES)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_a_reference_table_lists_exactly_the_keys_of_its_model(name: str) -> None:
    keys = documented_keys(name)
    assert len(keys) == len(set(keys)), f"a key is listed twice in the {name} table"
    missing = user_keys(MODELS[name]) - set(keys)
    unknown = set(keys) - user_keys(MODELS[name])
    assert not missing, f"keys of {name} not documented: {sorted(missing)}"
    assert not unknown, f"documented keys that {name} does not have: {sorted(unknown)}"


def build(model: type[BaseModel], **keys: Any) -> BaseModel:
    return model.model_validate({**MINIMAL.get(model, {}), **keys})


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_documented_default_is_the_models_default(name: str) -> None:
    model = MODELS[name]
    for row in TABLES[name]:
        key, default = only_code(row["key"]), row["default"].strip()
        field = model.model_fields[key]
        # when the default column is read as a reader would write it in the TOML
        if default == "required":
            assert field.is_required(), f"{name}.{key} is documented as required but has a default"
            continue
        assert not field.is_required(), f"{name}.{key} is required but documented with a default"
        reference = getattr(build(model), key)
        if default == "none":
            assert reference is None, f"{name}.{key} defaults to {reference!r}, not none"
            continue
        value = tomllib.loads(f"value = {only_code(default)}")["value"]
        # then writing that value explicitly gives exactly what leaving the key out gives
        assert getattr(build(model, **{key: value}), key) == reference, (
            f"{name}.{key}: documented default {default} differs from {reference!r}")


def test_a_partner_name_comes_from_its_table_name_not_from_a_key() -> None:
    # given a partner table that also says name = ..., the table's name still wins, which
    # is why the reference does not list `name` as a key
    config = config_from_dict({"partners": {"retura": {"transport": "local", "name": "x"}}})
    assert config.partners["retura"].name == "retura"


def test_every_toml_example_in_the_operator_guide_is_a_valid_configuration() -> None:
    blocks = [block.text for block in code_blocks(read(OPERATOR_GUIDE)) if block.language == "toml"]
    assert blocks
    for text in blocks:
        config = config_from_dict(tomllib.loads(text))  # raises ConfigError on any bad key
        assert isinstance(config, BridgeConfig)


def test_the_union_helpers_see_optional_and_nested_models() -> None:
    # the walker above must find a model behind ``list[X] | None`` (a partner's escalation)
    annotation = PartnerConfig.model_fields["escalation"].annotation
    assert [m.__name__ for m in models_in(annotation)] == ["EscalationLevel"]
    assert models_in(int | None) == [] and models_in(types.NoneType) == []
