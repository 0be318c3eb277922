"""Every preset is a valid run on this server, and its suggestions apply to it."""

from __future__ import annotations

import re

import pytest

from gan_core import Trainer, validate_config
from gan_core.config import apply_patch
from server.presets import DEFAULT_PRESET, PRESETS
from server.protocol import ViewOptions, check_config_limits, check_ranges
from server.settings import Limits


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_valid_within_the_server_limits(name: str) -> None:
    preset = PRESETS[name]
    assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", name)
    assert preset.title and len(preset.title) <= 40  # one line on a projector
    assert 100 < len(preset.note) < 600  # two to four sentences
    config = validate_config(preset.config)
    check_config_limits(config, Limits())
    view = ViewOptions.model_validate(preset.view)
    check_ranges(view.model_dump(include=view.model_fields_set), Limits())
    for part, n in preset.warmup:
        assert part in ("d", "g", "both") and 1 <= n <= Limits().max_step
    assert preset.try_next
    for item in preset.try_next:
        assert (item.patch is None) != (item.preset is None), item.label
        if item.patch is not None:
            check_config_limits(apply_patch(config, item.patch), Limits())
        else:
            assert item.preset in PRESETS


def test_the_default_preset_exists() -> None:
    assert DEFAULT_PRESET in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_trains_and_draws(name: str) -> None:
    trainer = Trainer(PRESETS[name].config)
    trainer.step(2)
    assert trainer.halt is None
    snapshot = trainer.snapshot(ViewOptions.model_validate(PRESETS[name].view).probe_options())
    assert snapshot["iteration"] == 2
