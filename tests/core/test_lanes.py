"""Lanes: runs from one start, stepped together; forks; the replay round trip."""

from __future__ import annotations

import json

import pytest
import torch

from gan_core import MAX_LANES, LaneError, Lanes, Trainer, replay
from gan_core.config import merge

SMALL = {"g_hidden": [32, 32], "d_hidden": [32, 32], "batch_size": 64}
WILD = {  # diverges within 200 iterations (tests/core/test_trainer.py)
    "loss": "lsgan",
    "regularizers": [],
    "opt_d": {"name": "sgd", "lr": 10.0},
    "opt_g": {"name": "sgd", "lr": 10.0},
}


def same_state(a: Trainer, b: Trainer) -> bool:
    """Every model tensor, every optimizer moment and the RNG equal, bit for bit."""
    states = [(a.G.state_dict(), b.G.state_dict()), (a.D.state_dict(), b.D.state_dict())]
    models = all(
        x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in states
    )
    return (
        models
        and same_moments(a.opt_g, b.opt_g)
        and same_moments(a.opt_d, b.opt_d)
        and torch.equal(a.rng.get_state(), b.rng.get_state())
        and a.iteration == b.iteration
    )


def same_moments(a: torch.optim.Optimizer, b: torch.optim.Optimizer) -> bool:
    x, y = a.state_dict()["state"], b.state_dict()["state"]
    return x.keys() == y.keys() and all(
        x[k].keys() == y[k].keys() and all(torch.equal(x[k][m], y[k][m]) for m in x[k]) for k in x
    )


def same_tensors(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


# ----- one start, stepped together --------------------------------------------------------
def test_lanes_start_from_bit_identical_models_where_the_architectures_match() -> None:
    lanes = Lanes(
        SMALL,
        [{}, {"loss": "hinge", "regularizers": []}, {"g_hidden": [16]}, {"d_hidden": [16, 16]}],
    )
    base, other_loss, other_g, other_d = (lane.trainer for lane in lanes)
    assert same_state(base, other_loss)
    assert same_tensors(base.D.state_dict(), other_g.D.state_dict())  # G differs, D shared
    assert same_tensors(base.G.state_dict(), other_d.G.state_dict())
    assert other_g.G.state_dict()["0.weight"].shape != base.G.state_dict()["0.weight"].shape
    alone = Trainer({**SMALL, "g_hidden": [16]})  # without lanes: the seed's D after another G
    assert not same_tensors(alone.D.state_dict(), base.D.state_dict())


def test_lanes_step_together_one_generator_iteration_each_and_draw_the_same_batches() -> None:
    lanes = Lanes(SMALL, [{"d_steps": 5}, {"d_steps": 1}, {"loss": "lsgan", "d_steps": 5}])
    lanes.step(3)
    assert [lane.trainer.iteration for lane in lanes] == [3, 3, 3]
    five, one, lsgan = (lane.trainer for lane in lanes)
    assert torch.equal(five.rng.get_state(), lsgan.rng.get_state())  # the same draws
    assert not torch.equal(five.rng.get_state(), one.rng.get_state())  # 5 D steps draw more
    assert not same_tensors(five.D.state_dict(), lsgan.D.state_dict())  # the loss differs
    lanes.step(2, part="d")
    assert [lane.trainer.iteration for lane in lanes] == [3, 3, 3]
    assert all(lane.trainer.commands[-1] == (3, "step_d", {"n": 2}) for lane in lanes)


def test_a_lane_trains_bit_for_bit_as_the_same_run_alone_whatever_lanes_it_shares() -> None:
    # The promise a stacked population broke (docs/engine-contract.md, Lanes): there a
    # nonsaturating lane beside a WGAN-GP one was 1 ulp off its lone self after one D step.
    patches = [{}, {"loss": "nonsaturating", "regularizers": []}, {"loss": "lsgan"}]
    lanes = Lanes(SMALL, patches)
    lanes.step(8)
    for lane, patch in zip(lanes, patches, strict=True):
        alone = Trainer(merge(Lanes(SMALL).base.model_dump(), patch))
        alone.step(8)
        assert same_state(lane.trainer, alone)


def test_a_diverging_lane_halts_alone_and_the_others_go_on() -> None:
    lanes = Lanes(SMALL, [{}, WILD, {"loss": "hinge"}])
    lanes.step(200)
    healthy, wild, hinge = (lane.trainer for lane in lanes)
    assert wild.halt is not None and wild.halt.kind == "diverged"
    assert wild.iteration < 200
    assert healthy.halt is None and hinge.halt is None
    assert healthy.iteration == hinge.iteration == 200


def test_add_close_keep_and_the_cap() -> None:
    lanes = Lanes(SMALL)
    lanes.step(5)
    added = lanes.add({"loss": "hinge"})
    assert added.id == 2 and added.trainer.iteration == 0  # from the start, not from lane 1
    lanes.add()
    lanes.fork(1, {})
    assert [lane.id for lane in lanes] == [1, 2, 3, 4] and len(lanes) == MAX_LANES == 4
    with pytest.raises(LaneError, match="at most 4 lanes"):
        lanes.add()
    with pytest.raises(LaneError, match="at most 4 lanes"):
        lanes.fork(1, {})
    lanes.close(2)
    assert [lane.id for lane in lanes] == [1, 3, 4]
    assert lanes.add().id == 5  # ids are never reused: a frame's lane stays that lane
    with pytest.raises(LaneError, match=r"no lane 2; the lanes are \[1, 3, 4, 5\]"):
        lanes[2]
    lanes.keep(4)
    assert [lane.id for lane in lanes] == [4]
    with pytest.raises(LaneError, match="only lane"):
        lanes.close(4)


def test_a_lane_keeps_the_base_seed() -> None:
    from gan_core import ConfigError

    with pytest.raises(ConfigError, match="seed"):
        Lanes(SMALL, [{}, {"seed": 3}])


# ----- forks and the replay -----------------------------------------------------------------
def lived(lanes: Lanes) -> None:
    """Some history on lane 1: iterations, a teaching step, a live update."""
    lanes.step(8)
    lanes.step(2, part="d")
    lanes[1].trainer.update({"opt_d": {"lr": 5e-4}})
    lanes.step(4)


def test_a_fork_with_an_empty_patch_continues_bit_for_bit_as_its_source() -> None:
    lanes = Lanes(SMALL)
    lived(lanes)
    fork = lanes.fork(1, {})
    assert fork.forked == {"lane": 1, "at": 12, "patch": {}, "reset_moments": False}
    assert fork.trainer.commands == lanes[1].trainer.commands
    lanes.step(15)
    assert same_state(fork.trainer, lanes[1].trainer)
    assert fork.trainer.iteration == 27


def test_a_fork_continues_as_its_source_would_have_under_the_patch() -> None:
    lanes = Lanes(SMALL)
    lived(lanes)
    patch = {"loss": "lsgan", "opt_g": {"lr": 2e-3}}
    fork = lanes.fork(1, patch)
    lanes.step(15)
    assert fork.trainer.commands[-1] == (12, "update", {"patch": patch, "reset_moments": False})
    again = replay(SMALL, fork.trainer.commands, fork.trainer.iteration)
    assert same_state(fork.trainer, again)
    assert not same_state(fork.trainer, lanes[1].trainer)  # the patch made a difference


def test_the_replay_round_trip_rebuilds_every_lane_exactly() -> None:
    lanes = Lanes(SMALL, [{}, {"g_hidden": [16]}])
    lived(lanes)
    lanes.fork(1, {"loss": "lsgan"}, reset_moments=True)
    lanes.close(2)
    wild = lanes.add(WILD)
    lanes.step(150)
    assert wild.trainer.halt is not None  # a halted lane is rebuilt halted
    data = json.loads(json.dumps(lanes.to_replay()))  # what a URL holds
    assert len(json.dumps(data)) < 2000
    again = Lanes.from_replay(data)
    assert [lane.id for lane in again] == [1, 3, 4] and again.next_id == 5
    for mine, theirs in zip(lanes, again, strict=True):
        assert same_state(mine.trainer, theirs.trainer)
        assert mine.trainer.commands == [tuple(c) for c in theirs.trainer.commands]
        assert mine.trainer.halt == theirs.trainer.halt
        assert mine.forked == theirs.forked and mine.start == theirs.start
    lanes.step(5)
    again.step(5)
    assert all(same_state(a.trainer, b.trainer) for a, b in zip(lanes, again, strict=True))


def test_a_replay_that_is_not_one_says_so() -> None:
    data = Lanes(SMALL).to_replay()
    with pytest.raises(LaneError, match="version 7"):
        Lanes.from_replay({**data, "version": 7})
    with pytest.raises(LaneError, match=r"not a lane replay.*'commands'"):
        Lanes.from_replay({**data, "lanes": [{"id": 1, "start": {}, "forked": None}]})
    with pytest.raises(LaneError, match="at least one lane"):
        Lanes.from_replay({**data, "lanes": []})


def test_a_lane_keeps_its_title_through_fork_and_replay() -> None:
    lanes = Lanes(SMALL, patches=[])
    lanes.add({}, "plain")
    lanes.fork(1, {"loss": "hinge"}, title="hinge")
    again = Lanes.from_replay(json.loads(json.dumps(lanes.to_replay())))
    assert [lane.title for lane in again] == ["plain", "hinge"]


def test_save_and_restore_keep_the_whole_lane_set_and_continue_it_exactly() -> None:
    lanes = Lanes(SMALL, [{}, {"loss": "hinge", "regularizers": []}])
    lanes.step(5)
    lanes.fork(2, {"opt_g": {"lr": 5e-4}}, title="slower G")
    lanes.close(1)
    again = Lanes.restore(lanes.save())
    assert [(lane.id, lane.title, lane.start, lane.forked) for lane in again] == [
        (lane.id, lane.title, lane.start, lane.forked) for lane in lanes
    ]
    assert again.next_id == lanes.next_id and again.base == lanes.base
    lanes.step(3)
    again.step(3)
    assert all(same_state(a.trainer, b.trainer) for a, b in zip(lanes, again, strict=True))
    assert again.add({}).trainer.G.state_dict().keys()  # the shared start came along
    assert same_tensors(
        again.lanes[-1].trainer.D.state_dict(), Lanes(SMALL).lanes[0].trainer.D.state_dict()
    )
