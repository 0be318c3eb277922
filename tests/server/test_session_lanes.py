"""Lanes over the real websocket (docs/protocol.md §11): a session holds 1 to 4 runs from one
start, stepped together; frames and events name their lane; forks continue exactly; a lane
that diverges halts alone; reset rebuilds a lane set from a config and lanes, a preset or an
exported replay; the limits' errors name the field."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from conftest import SMALL, Client, frame_tick

from server.presets import PRESETS

Connect = Callable[..., Client]

WILD = {  # diverges within a few hundred iterations (tests/core/test_lanes.py)
    "loss": "lsgan",
    "regularizers": [],
    "opt_d": {"name": "sgd", "lr": 10.0},
    "opt_g": {"name": "sgd", "lr": 10.0},
}


def ids(reply: dict) -> list[int]:
    return [lane["id"] for lane in reply["lanes"]]


def test_lanes_are_added_forked_closed_and_kept_and_every_ack_says_them(
    connect_ws: Connect,
) -> None:
    client = connect_ws()
    (first,) = client.hello["lanes"]
    assert first["id"] == 1 and first["config"] == client.hello["config"]
    client.small()
    added = client.ok("lane_add", patch={"loss": "hinge", "regularizers": []}, title="hinge")
    assert added["added"] == 2 and ids(added) == [1, 2]
    lane = added["lanes"][1]
    assert (lane["title"], lane["iteration"]) == ("hinge", 0)
    assert lane["start"] == {"loss": "hinge", "regularizers": []}
    assert lane["config"]["loss"] == "hinge" and lane["forked"] is None and lane["halted"] is None
    changed = client.event("config_changed")
    assert changed["lane"] == 2 and changed["reset"] is True
    step = client.ok("step", n=4)  # together: every lane 4 more iterations
    assert [lane["iteration"] for lane in step["lanes"]] == [4, 4] and step["steps"] == 4
    frames = frame_tick(client, step["version"], [1, 2])
    assert [frames[i].iteration for i in (1, 2)] == [4, 4]
    assert frames[1].header["seq"] >= 1 and frames[2].header["seq"] >= 1
    fork = client.ok("lane_fork", lane=1, patch={"opt_g": {"lr": 5e-4}}, title="slow G")
    assert fork["added"] == 3 and fork["lanes"][2]["iteration"] == 4
    assert fork["lanes"][2]["forked"] == {
        "lane": 1, "at": 4, "patch": {"opt_g": {"lr": 5e-4}}, "reset_moments": False
    }  # fmt: skip
    late = client.ok("lane_add", patch={}, title="late")  # from the start, while others go on
    assert [lane["iteration"] for lane in late["lanes"]] == [4, 4, 4, 0]
    step = client.ok("step", n=2)
    assert [lane["iteration"] for lane in step["lanes"]] == [6, 6, 6, 2]
    beyond = client.command("lane_add", patch={})
    assert (beyond["code"], beyond["field"]) == ("invalid", "lane") and "at most 4" in beyond[
        "message"
    ]
    assert ids(client.ok("lane_close", lane=2)) == [1, 3, 4]
    kept = client.ok("lane_keep", lane=3)
    assert ids(kept) == [3] and kept["iteration"] == 6  # the first lane's, now lane 3
    frame = client.frame(lambda f: f.version == kept["version"])
    assert frame.header["lane"] == 3
    last = client.command("lane_close", lane=3)
    assert (last["code"], last["field"]) == ("invalid", "lane") and "only lane" in last["message"]
    resumed = connect_ws(query=f"session={client.session}")  # takes it over, lanes and all
    assert resumed.hello["resumed"] is True and ids(resumed.hello) == [3]
    assert resumed.hello["lanes"][0]["title"] == "slow G"
    client = resumed
    unknown = client.command("lane_fork", lane=9)
    assert (unknown["code"], unknown["field"]) == ("invalid", "lane") and "[3]" in unknown[
        "message"
    ]


def test_updates_address_one_lane_or_all_and_their_events_name_it(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("lane_add", patch={"loss": "hinge", "regularizers": []})
    one = client.ok("update", lane=2, patch={"opt_d": {"lr": 2e-4}})
    assert one["lane"] == 2 and one["config"]["opt_d"]["lr"] == 2e-4
    assert one["lanes"][0]["config"]["opt_d"]["lr"] != 2e-4
    assert one["lanes"][1]["config"]["opt_d"]["lr"] == 2e-4
    assert client.event("config_changed")["lane"] == 2
    every = client.ok("update", lane="all", patch={"opt_g": {"lr": 3e-4}})
    assert every["lane"] == "all" and every["version"] == one["version"] + 1
    assert [lane["config"]["opt_g"]["lr"] for lane in every["lanes"]] == [3e-4, 3e-4]
    assert sorted(client.event("config_changed")["lane"] for _ in range(2)) == [1, 2]
    refused = client.command("update", lane="all", patch={"opt_d": {"lr": 100.0}})
    assert (refused["code"], refused["field"]) == ("invalid", "patch.opt_d.lr")
    assert "lane 1" in refused["message"] and refused["version"] == every["version"]
    assert client.command("update", lane=7, patch={})["field"] == "lane"


def test_a_fork_with_an_empty_patch_continues_bit_for_bit_as_its_source(
    connect_ws: Connect,
) -> None:
    client = connect_ws()
    client.small()
    client.ok("view", precision="f32", samples=32)
    client.ok("step", n=6)
    client.ok("lane_fork", lane=1, patch={})
    step = client.ok("step", n=8)
    assert [lane["iteration"] for lane in step["lanes"]] == [14, 14]
    frames = frame_tick(client, step["version"], [1, 2])
    source, fork = frames[1], frames[2]
    assert source.header["metrics"] == fork.header["metrics"]
    for name in ("fake", "fake_grad", "d_grid"):
        np.testing.assert_array_equal(source.arrays[name], fork.arrays[name])


def test_a_diverging_lane_halts_alone_and_the_others_go_on(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("lane_add", patch=WILD, title="wild")
    client.send(type="step", n=400, id="wild")
    seen: list[dict] = []
    while not seen or seen[-1].get("id") != "wild":
        seen.append(client.next(lambda m: isinstance(m, dict), timeout=30))  # type: ignore[arg-type]
    *events, step = seen
    assert [event["lane"] for event in events if event["type"] == "diverged"] == [2]
    calm, wild = step["lanes"]
    assert calm["iteration"] == 400 and calm["halted"] is None
    assert wild["halted"]["kind"] in ("diverged", "error") and wild["iteration"] < 400
    again = client.ok("step", n=5)  # not every lane is halted: the calm one goes on
    assert again["lanes"][0]["iteration"] == 405
    assert again["lanes"][1]["iteration"] == wild["iteration"]
    client.ok("lane_keep", lane=2)
    assert client.command("step")["code"] == "halted"  # now every lane is
    assert client.command("play")["code"] == "halted"


def test_reset_with_a_config_and_lanes_starts_them_all_at_0(connect_ws: Connect) -> None:
    client = connect_ws()
    step = client.ok("step", n=3)
    before = client.frame(lambda f: f.iteration == step["iteration"]).header["seq"]
    reset = client.ok(
        "reset",
        config=SMALL,
        lanes=[{"patch": {"loss": "hinge", "regularizers": []}, "title": "hinge"}, {}],
    )
    assert ids(reset) == [1, 2, 3] and [lane["iteration"] for lane in reset["lanes"]] == [0] * 3
    assert [lane["title"] for lane in reset["lanes"]] == ["", "hinge", ""]
    assert reset["lanes"][1]["start"] == {"loss": "hinge", "regularizers": []}
    frames = frame_tick(client, reset["version"], [1, 2, 3])
    assert min(frame.header["seq"] for frame in frames.values()) > before  # never goes back
    np.testing.assert_array_equal(frames[1].arrays["fake"], frames[3].arrays["fake"])  # one start
    bad = client.command("reset", config=SMALL, lanes=[{"patch": {"opt_d": {"lr": -1}}}])
    assert (bad["code"], bad["field"]) == ("invalid", "lanes.0.patch.opt_d.lr")
    many = client.command("reset", config=SMALL, lanes=[{}] * 4)
    assert (many["code"], many["field"]) == ("invalid", "lanes")
    seed = client.command("reset", config=SMALL, lanes=[{"patch": {"seed": 5}}])
    assert (seed["code"], seed["field"]) == ("invalid", "lanes.0.patch.seed")


def test_reset_with_an_exported_replay_reproduces_every_lane_bit_for_bit(
    connect_ws: Connect,
) -> None:
    original = connect_ws()
    original.small()
    original.ok("lane_add", patch={"loss": "hinge", "regularizers": []}, title="hinge")
    original.ok("step", n=10)
    original.ok("update", lane=2, patch={"opt_d": {"lr": 5e-4}})
    original.ok("step", n=3, part="d")
    original.ok("lane_fork", lane=1, patch={"loss": "nonsaturating"}, title="ns")
    original.ok("step", n=7)
    view = original.ok("view", precision="f32", samples=32)
    shown = frame_tick(original, view["version"], [1, 2, 3])
    replay = original.ok("export")["replay"]
    assert [lane["id"] for lane in replay["lanes"]] == [1, 2, 3]
    copy = connect_ws()
    copy.ok("view", precision="f32", samples=32)
    reset = copy.ok("reset", replay=replay)
    assert ids(reset) == [1, 2, 3] and [lane["iteration"] for lane in reset["lanes"]] == [17] * 3
    assert [lane["title"] for lane in reset["lanes"]] == ["", "hinge", "ns"]
    assert reset["lanes"][2]["forked"]["at"] == 10
    again = frame_tick(copy, reset["version"], [1, 2, 3])
    for lane in (1, 2, 3):
        assert again[lane].iteration == shown[lane].iteration == 17
        for name in ("fake", "fake_grad", "d_grid", "real"):
            np.testing.assert_array_equal(again[lane].arrays[name], shown[lane].arrays[name])


def test_a_replay_that_is_not_one_or_too_long_is_refused_naming_the_field(
    connect_ws: Connect,
) -> None:
    client = connect_ws()
    client.small()
    client.ok("step", n=2)
    replay = client.ok("export")["replay"]
    lane = replay["lanes"][0]

    def refused(**changes: object) -> dict:
        return client.command("reset", replay={**replay, **changes})

    long = refused(lanes=[{**lane, "iterations": 20_001}])
    assert (long["code"], long["field"]) == ("invalid", "replay.lanes.0.iterations")
    assert "max_replay_iterations" in long["message"]
    kind = refused(lanes=[{**lane, "commands": [[0, "explode", {}]]}])
    assert kind["field"] == "replay.lanes.0.commands.0.1" and "step_d" in kind["message"]
    late = refused(lanes=[{**lane, "commands": [[5, "step_d", {"n": 1}]]}])
    assert late["field"] == "replay.lanes.0.commands.0.0"
    lr = refused(base={**replay["base"], "opt_d": {"lr": 100.0}})
    assert (lr["code"], lr["field"]) == ("invalid", "replay.base.opt_d.lr")
    patch = refused(
        lanes=[
            {
                **lane,
                "commands": [[0, "update", {"patch": {"batch_size": 0}, "reset_moments": False}]],
            }
        ]
    )
    assert patch["field"] == "replay.lanes.0.commands.0.2.patch.batch_size"
    assert refused(version=2)["field"] == "replay.version"
    assert client.command("reset", replay=replay, preset="dirac_gan")["field"] == "preset"
    assert client.ok("step")["iteration"] == 3  # nothing changed


def test_too_heavy_counts_every_lane(connect_ws: Connect) -> None:
    client = connect_ws()
    heavy = {"batch_size": 256, "d_hidden": [512, 256], "g_hidden": [64], "d_steps": 2}
    client.ok("reset", patch=heavy)  # one lane of it fits a turn (0.7 G multiply-adds)...
    second = client.command("lane_add", patch={})  # ...two do not
    assert (second["code"], second["field"]) == ("too_heavy", "patch.batch_size")
    assert "lanes count" in second["message"] and "close a lane" in second["message"]
    fork = client.command("lane_fork", lane=1, patch={})
    assert (fork["code"], fork["field"]) == ("too_heavy", "patch.batch_size")
    assert client.ok("step")["iteration"] == 1  # the session goes on with its one lane


def test_a_lane_added_to_a_preset_takes_its_warm_up_and_shares_its_start(
    connect_ws: Connect,
) -> None:
    """saturated_discriminator starts with D trained alone 300 times: a lane added from the
    start takes the same warm-up by itself, so it shows exactly lane 1's state at its start."""
    client = connect_ws(query="preset=saturated_discriminator")
    first = ids(client.hello)
    client.ok("view", precision="f32")
    added = client.ok("lane_add", patch={}, title="twin")
    twin = added["added"]
    assert [lane["iteration"] for lane in added["lanes"]] == [0] * (len(first) + 1)
    frames = frame_tick(client, added["version"], ids(added))
    np.testing.assert_array_equal(frames[1].arrays["d_line"], frames[twin].arrays["d_line"])
    bare = client.ok("lane_add", patch={}, warmup=False)
    frames = frame_tick(client, bare["version"], ids(bare))
    assert abs(frames[bare["added"]].arrays["d_line"] - frames[1].arrays["d_line"]).max() > 0.1
    replay = client.ok("export")["replay"]
    assert [lane["commands"][:1] for lane in replay["lanes"][-2:]] == [
        [[0, "step_d", {"n": 300}]], []
    ]  # fmt: skip


def test_reset_to_a_preset_of_lanes_starts_them_and_forks_after_its_warm_up(
    connect_ws: Connect,
) -> None:
    """saturated_discriminator: D trained alone first, then the WGAN-GP lane forked from that
    very state (server.presets.start_lanes / finish_lanes, in the worker's turns)."""
    spec = PRESETS["saturated_discriminator"]
    client = connect_ws()
    reset = client.ok("reset", preset="saturated_discriminator")
    assert [lane["title"] for lane in reset["lanes"]] == [
        spec.lane_title, *(lane.title for lane in spec.lanes)
    ]  # fmt: skip
    after = [lane.after_warmup for lane in spec.lanes]
    assert [lane["forked"] is not None for lane in reset["lanes"][1:]] == after and any(after)
    frames = frame_tick(client, reset["version"], ids(reset))
    assert all(frame.iteration == 0 for frame in frames.values())
    replay = client.ok("export")["replay"]
    (part, n), *_ = spec.warmup
    assert all(lane["commands"][0] == [0, f"step_{part}", {"n": n}] for lane in replay["lanes"])
