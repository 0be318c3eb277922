"""docs/protocol.md stays true: its examples parse, its limits are the server's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from server.protocol import COMMANDS, PROTOCOL_VERSION, decode, parse_command
from server.settings import Limits

DOC = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()


def json_blocks() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC, re.S)


def inline_commands() -> list[str]:
    """The command examples in the §2 table, e.g. `{"type": "step", "n": 1, ...}`."""
    return [text for text in re.findall(r"`(\{\"type\": .*?\})`", DOC) if "..." not in text]


def test_the_document_names_its_version() -> None:
    assert f"version {PROTOCOL_VERSION}" in DOC.splitlines()[0]


@pytest.mark.parametrize("text", inline_commands())
def test_every_command_example_is_accepted(text: str) -> None:
    data = json.loads(text)
    assert data["type"] in COMMANDS
    parse_command(decode(text), Limits())


def test_every_command_is_documented() -> None:
    documented = {json.loads(text)["type"] for text in inline_commands()}
    assert documented == set(COMMANDS)


def test_the_documented_limits_are_the_servers() -> None:
    (limits,) = [block for block in json_blocks() if block.startswith('{"max_message_bytes"')]
    assert json.loads(limits) == Limits().as_json()


def test_every_preset_and_its_kind_is_documented() -> None:
    from gan_core import validate_config
    from server.presets import DEFAULT_PRESET, PRESETS

    documented = dict(re.findall(r"^\| (\w+) \| (1d|2d|dirac) \|$", DOC, re.M))
    kinds = {}
    for name, preset in PRESETS.items():
        config = validate_config(preset.config)
        kinds[name] = "dirac" if config.dataset == "dirac" else f"{config.dim}d"
    assert documented == kinds
    assert f"new session with the default preset, {DEFAULT_PRESET}" in DOC
