"""Every preset is a valid run on this server with all its lanes, and its suggestions apply."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import get_json

from gan_core import MAX_LANES, validate_config
from gan_core.config import TrainConfig, apply_patch, merge
from server.presets import DEFAULT_PRESET, PRESETS, open_try_next, start_comparison
from server.protocol import ViewOptions, check_config_limits, check_ranges, iteration_work
from server.settings import Limits


def chart_titles() -> set[str]:
    """The titles of the page's metric charts: ``CHARTS`` in web/metrics.js, their one source."""
    source = (Path(__file__).resolve().parents[2] / "web" / "metrics.js").read_text()
    block = re.search(r"const (?:CHARTS|PANELS) = \[(.*?)\n\];", source, re.S)
    assert block, "web/metrics.js has no CHARTS list"
    return set(re.findall(r'title: "([^"]+)"', block.group(1)))


def lane_configs(name: str) -> list[TrainConfig]:
    """Lane 1's config and every other lane's: a start lane is the config with its patch
    (merged, as ``Lanes.add`` does), an after-warm-up lane lane 1's patched live."""
    preset = PRESETS[name]
    first = validate_config(preset.config)
    configs = [first]
    for lane in preset.lanes:
        if lane.after_warmup:
            configs.append(apply_patch(first, lane.patch))  # raises unless it is live
        else:
            configs.append(validate_config(merge(first.model_dump(), lane.patch)))
    return configs


@pytest.mark.parametrize("name", PRESETS)
def test_preset_is_valid_within_the_server_limits(name: str) -> None:
    preset = PRESETS[name]
    assert re.fullmatch(r"[a-z0-9]+(_[a-z0-9]+)*", name)
    assert preset.title and len(preset.title) <= 40  # one line on a projector
    assert 100 < len(preset.note) < 600  # two to four sentences
    view = ViewOptions.model_validate(preset.view)
    check_ranges(view.model_dump(include=view.model_fields_set), Limits())
    for part, n in preset.warmup:
        assert part in ("d", "g", "both") and 1 <= n <= Limits().max_step
    for config in lane_configs(name):  # every lane within the limits, all of one seed
        check_config_limits(config, Limits())
        assert config.seed == lane_configs(name)[0].seed


@pytest.mark.parametrize("name", PRESETS)
def test_preset_lanes_are_titled_and_at_most_four(name: str) -> None:
    preset = PRESETS[name]
    assert 1 + len(preset.lanes) <= MAX_LANES
    titles = [preset.lane_title, *(lane.title for lane in preset.lanes)]
    if preset.lanes:
        assert all(titles) and len(set(titles)) == len(titles), titles  # told apart
        assert all(len(title) <= 40 for title in titles)  # a panel's title line
    else:
        assert not preset.lane_title
    if preset.overlay:  # one plot for all lanes: a 1D axis or the Dirac-GAN plane
        assert preset.lanes
        assert all(c.dim == 1 or c.dataset == "dirac" for c in lane_configs(name))


@pytest.mark.parametrize("name", PRESETS)
def test_try_next_opens_a_lane_or_loads_a_preset(name: str) -> None:
    """A patch opens a lane, "start" (the config with the patch, within the limits) or
    "fork" (the patch live on the lane in view, whichever lane that is); never neither."""
    preset = PRESETS[name]
    assert preset.try_next
    configs = lane_configs(name)
    for item in preset.try_next:
        assert item.label and len(item.label) <= 60, item.label
        assert (item.patch is None) != (item.preset is None), item.label
        if item.preset is not None:
            assert item.lane is None and item.preset in PRESETS, item.label
        elif item.lane == "start":
            start = validate_config(merge(configs[0].model_dump(), item.patch))
            check_config_limits(start, Limits())
            assert start.seed == configs[0].seed
        else:
            assert item.lane == "fork", f"{item.label!r}: a patch needs lane 'start' or 'fork'"
            for config in configs:
                check_config_limits(apply_patch(config, item.patch), Limits())


@pytest.mark.parametrize("name", PRESETS)
def test_all_lanes_and_one_more_fit_one_iteration_of_a_session(name: str) -> None:
    """Lanes count: a session's iteration is one of every lane; a "try next" lane beside
    them (the heaviest) must still fit the server's work per iteration."""
    configs = lane_configs(name)
    extra = [
        validate_config(merge(configs[0].model_dump(), item.patch))
        for item in PRESETS[name].try_next
        if item.patch is not None
    ]
    heaviest = max(map(iteration_work, extra), default=0.0)
    assert sum(map(iteration_work, configs)) + heaviest <= Limits().max_iteration_work


@pytest.mark.parametrize("name", PRESETS)
def test_a_preset_names_real_charts(name: str) -> None:
    """The charts a preset shows beside its plot are charts of the page, each once."""
    charts = PRESETS[name].charts
    assert set(charts) <= chart_titles(), set(charts) - chart_titles()
    assert len(set(charts)) == len(charts) <= 3  # one row of charts under the plot


def test_the_default_preset_exists() -> None:
    assert DEFAULT_PRESET in PRESETS


@pytest.mark.parametrize("name", PRESETS)
def test_preset_lanes_train_and_draw(name: str) -> None:
    """As a session starts it: every lane after the warm-up, two iterations on, drawn."""
    lanes = start_comparison(PRESETS[name].config, name)
    first, *others = [lane.title for lane in lanes]
    assert first == PRESETS[name].lane_title
    assert sorted(others) == sorted(spec.title for spec in PRESETS[name].lanes)
    warmed = [lane.trainer.iteration for lane in lanes]  # full iterations of the warm-up
    lanes.step(2)
    options = ViewOptions.model_validate(PRESETS[name].view).probe_options()
    for lane, start in zip(lanes, warmed, strict=True):
        assert lane.trainer.halt is None
        assert lane.trainer.snapshot(options)["iteration"] == start + 2


def test_the_preset_detail_serves_lanes_overlay_and_try_next_lane_modes(live_server: str) -> None:
    """GET /api/presets/{name}: the shape documented in server.app.preset_detail."""
    detail = get_json(live_server + "/api/presets/saturated_discriminator")
    assert detail["lane_title"] == "minimax" and detail["overlay"] is False
    (wgan,) = detail["lanes"]
    assert wgan == {"title": "WGAN-GP, lambda 10", "patch": wgan["patch"], "after_warmup": True}
    assert wgan["patch"]["loss"] == "wgan"
    fork, other = detail["try_next"]
    assert fork["lane"] == "fork" and fork["patch"]["loss"] == "nonsaturating"
    assert other == {"label": other["label"], "preset": "minimax_vs_nonsaturating"}
    dirac = get_json(live_server + "/api/presets/dirac_gan")
    assert dirac["overlay"] is True and len(dirac["lanes"]) == 3
    assert {item.get("lane") for item in dirac["try_next"]} == {"start", "fork", None}
    single = get_json(live_server + "/api/presets/ring8_wgan_gp")
    assert single["lanes"] == [] and single["lane_title"] == "" and single["overlay"] is False
    js = get_json(live_server + "/api/presets/js_blind_to_distance")
    assert js["charts"] == ["JS, KL", "W₁"] and dirac["charts"] == []


def test_a_try_next_that_loads_a_preset_opens_no_lane() -> None:
    name = "saturated_discriminator"
    (item,) = [item for item in PRESETS[name].try_next if item.preset is not None]
    lanes = start_comparison(PRESETS[name].config, name)
    with pytest.raises(ValueError, match="loads a preset"):
        open_try_next(lanes, name, item, lanes.lanes[0].id)
    assert len(lanes) == 2
