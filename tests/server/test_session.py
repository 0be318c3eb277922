"""One session over a real websocket: commands, replies, frames and events."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest
from conftest import SMALL, Client, Frame

from gan_core import Lanes

Connect = Callable[..., Client]


def test_hello_then_a_frame_of_the_default_preset(connect_ws: Connect) -> None:
    client = connect_ws()
    hello = client.hello
    assert hello["type"] == "hello" and hello["protocol"] == 2
    assert hello["resumed"] is False and hello["playing"] is False
    assert hello["preset"] == "ring8_wgan_gp" and hello["config"]["dataset"] == "ring8"
    assert hello["version"] == 0 and hello["iteration"] == 0
    assert hello["limits"]["max_step"] == 1000
    frame = client.frame()
    assert frame.header["kind"] == "2d" and frame.iteration == 0
    assert frame.arrays["d_grid"].shape == (64, 64)
    assert frame.arrays["real"].shape == frame.arrays["fake"].shape == (256, 2)
    assert frame.arrays["fake_grad"].shape == (256, 2)
    assert frame.size <= 16 * 1024, "the default 2D frame must fit in 16 KB"


def test_frames_arrive_with_increasing_iterations_while_playing(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("play")
    frames = [client.frame(lambda f: f.header["playing"]) for _ in range(6)]
    iterations = [frame.iteration for frame in frames]
    assert iterations == sorted(iterations) and iterations[-1] > iterations[0]
    seqs = [frame.header["seq"] for frame in frames]
    assert seqs == sorted(set(seqs))
    paused = client.ok("pause")
    last = client.frame(lambda f: not f.header["playing"])
    assert last.iteration == paused["iteration"]


def test_an_update_switches_the_loss_and_the_next_frame_carries_the_new_version(
    connect_ws: Connect,
) -> None:
    client = connect_ws()
    before = client.small()["version"]
    client.ok("play")
    ack = client.ok("update", patch={"loss": "minimax", "regularizers": []})
    assert ack["version"] == before + 1 and ack["config"]["loss"] == "minimax"
    changed = client.event("config_changed")
    assert changed["version"] == ack["version"] and changed["reset"] is False
    assert {"field": "loss", "old": "wgan", "new": "minimax"} in changed["changes"]
    assert "loss wgan → minimax" in changed["summary"]
    frame = client.frame(lambda f: f.version == ack["version"])
    assert frame.header["display"] == "probability"  # minimax's D is shown as sigmoid(D)
    assert frame.iteration >= ack["iteration"]


def test_a_bad_patch_is_an_error_naming_the_field_and_the_connection_keeps_working(
    connect_ws: Connect,
) -> None:
    client = connect_ws()
    version = client.small()["version"]
    error = client.command("update", patch={"opt_d": {"lr": 100}})
    assert error["type"] == "error" and error["code"] == "invalid"
    assert error["field"] == "patch.opt_d.lr" and "10" in error["message"]
    assert error["version"] == version and error["command"] == "update"
    unknown = client.command("update", patch={"loss": "nope"})
    assert unknown["field"] == "patch.loss" and "wgan" in unknown["message"]
    reset_only = client.command("update", patch={"g_hidden": [8]})
    assert reset_only["field"] == "patch.g_hidden" and "reset" in reset_only["message"]
    step = client.ok("step", n=3)
    assert step["iteration"] == 3 and step["version"] == version


@pytest.mark.parametrize(
    ("command", "code", "field"),
    [
        ({"type": "dance"}, "unknown_command", "type"),
        ({"type": "step", "n": 0}, "invalid", "n"),
        ({"type": "step", "n": 5000}, "invalid", "n"),
        ({"type": "step", "part": "x"}, "invalid", "part"),
        ({"type": "play", "speed": 2}, "invalid", "speed"),
        ({"type": "view", "grid": 256}, "invalid", "grid"),
        ({"type": "view", "colour": "red"}, "invalid", "colour"),
        ({"type": "pace", "fps": 0}, "invalid", "fps"),
        ({"type": "reset", "preset": "nope"}, "invalid", "preset"),
        ({"type": "reset", "preset": "dirac_gan", "config": {}}, "invalid", "preset"),
        ({"type": "reset", "patch": {"batch_size": 2048}}, "invalid", "patch.batch_size"),
        ({"type": "reset", "patch": {"d_hidden": [64, 1024]}}, "invalid", "patch.d_hidden.1"),
        ({"type": "reset", "config": {"g_hidden": [8] * 5}}, "invalid", "config.g_hidden"),
        (
            {"type": "reset", "config": {"dataset": "points", "target": {"points": []}}},
            "invalid",
            "config.target.points",
        ),
        ({"type": "update", "patch": {"batch_size": 2000}}, "invalid", "patch.batch_size"),
        ({"type": "update"}, "invalid", "patch"),
    ],
)
def test_commands_beyond_the_protocol_or_the_limits_are_errors(
    connect_ws: Connect, command: dict, code: str, field: str
) -> None:
    client = connect_ws()
    reply = client.command(**command)
    assert (reply["type"], reply["code"], reply["field"]) == ("error", code, field), reply
    assert reply["message"]
    assert client.ok("pause")["playing"] is False


def test_malformed_messages_get_errors(connect_ws: Connect) -> None:
    client = connect_ws()
    client.ws.send("not json")
    assert client.event("error")["code"] == "bad_json"
    client.ws.send("[1, 2]")
    assert client.event("error")["code"] == "bad_json"
    client.ws.send("[" * 20000 + "]" * 20000)
    assert client.event("error")["code"] == "bad_json"
    client.ws.send(b"\x00\x01")
    assert client.event("error")["code"] == "binary_not_accepted"
    limit = client.hello["limits"]["max_message_bytes"]
    client.send(type="update", patch={"target": {"points": [[0.0, 0.0]] * (limit // 8)}})
    assert client.event("error")["code"] == "too_large"
    assert client.ok("step")["iteration"] == 1


def test_step_parts_and_counts(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    assert client.ok("step", n=5)["iteration"] == 5
    assert client.frame().header["part"] == "both"
    assert client.ok("step", n=2, part="d")["iteration"] == 5
    assert client.frame().header["part"] == "d"
    assert client.ok("step", part="g")["iteration"] == 5


def test_view_options_shape_the_frame(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    ack = client.ok("view", grid=32, samples=64, field=8, manifold=6, trails=3)
    assert ack["view"]["grid"] == 32 and ack["view"]["line"] == 200
    frame = client.frame(lambda f: f.arrays["d_grid"].shape == (32, 32))
    assert frame.arrays["fake"].shape == (64, 2)
    assert frame.arrays["field"].shape == (8, 8, 2)
    assert frame.arrays["manifold"].shape == (6, 6, 2)
    for _ in range(3):
        client.ok("step")
    trails = client.frame(lambda f: f.iteration == 3).arrays["trails"]
    assert trails.shape == (3, 64, 2)
    client.ok("view", omit=["d_grid", "trails"])
    lean = client.frame(lambda f: "d_grid" not in f.arrays)
    assert "trails" not in lean.arrays and "fake" in lean.arrays


def test_q16_precision_is_as_documented(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("step", n=20)
    coarse = client.frame(lambda f: f.iteration == 20)
    client.ok("view", precision="f32")
    exact = client.frame(lambda f: f.header["arrays"][0]["dtype"] == "f32")
    assert exact.iteration == 20
    for info in coarse.header["arrays"]:
        bound = (info["hi"] - info["lo"]) / 131068 + 1e-6 * max(1.0, abs(info["hi"]))
        error = np.abs(coarse.arrays[info["name"]] - exact.arrays[info["name"]]).max()
        assert error <= bound, info["name"]


def test_reset_to_a_preset_changes_the_kind_and_the_version(connect_ws: Connect) -> None:
    client = connect_ws()
    client.ok("step", n=2)
    ack = client.ok("reset", preset="dirac_gan")
    assert ack["version"] == 1 and ack["iteration"] == 0 and ack["preset"] == "dirac_gan"
    event = client.event("config_changed")
    assert event["reset"] is True and event["iteration"] == 0
    assert any(change["field"] == "dataset" for change in event["changes"])
    frame = client.frame(lambda f: f.version == 1)
    assert frame.header["kind"] == "dirac"
    assert frame.arrays["dirac_field"].shape == (21, 21, 2)
    assert {"theta", "psi", "eigenvalues"} <= frame.header.keys()
    assert client.ok("reset")["version"] == 2, "every reset is a new version"


def test_the_exported_replay_reproduces_the_run(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("step", n=5)
    client.ok("update", patch={"loss": "hinge", "opt_d": {"lr": 5e-4}})
    client.ok("step", n=2, part="d")
    client.ok("step", n=4)
    client.ok("view", precision="f32", samples=32)
    shown = client.frame(lambda f: f.arrays["fake"].shape == (32, 2))
    replay_data = client.ok("export")["replay"]
    (lane,) = replay_data["lanes"]
    assert lane["iterations"] == 9 and lane["commands"][0][1] == "update"
    trainer = Lanes.from_replay(replay_data).lanes[0].trainer
    expected = trainer.snapshot({"samples": 32})["fake"]
    np.testing.assert_array_equal(shown.arrays["fake"], expected.astype(np.float64))


def test_a_diverging_run_pauses_with_an_event(connect_ws: Connect) -> None:
    client = connect_ws()
    client.ok(
        "reset",
        patch={
            **SMALL,
            "loss": "wgan",
            "regularizers": [],
            "opt_d": {"name": "sgd", "lr": 10.0},
            "opt_g": {"name": "sgd", "lr": 10.0},
        },
    )
    client.ok("play")
    diverged = client.event("diverged", timeout=30)
    assert diverged["kind"] in ("diverged", "error") and diverged["quantity"]
    assert "iteration" in diverged["message"]
    halted: Frame = client.frame(lambda f: f.header["halt"] is not None)
    assert halted.header["playing"] is False
    assert client.command("play")["code"] == "halted"
    assert client.command("step")["code"] == "halted"
    client.ok("update", patch={"opt_d": {"lr": 1e-3}, "opt_g": {"lr": 1e-3}})
    assert client.ok("step")["type"] == "ack"


def test_pace_and_slow_motion(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    pace = client.ok("pace", steps_per_frame=3, fps=60)["pace"]
    assert pace == {"fps": 60, "steps_per_frame": 3, "slow_motion": 0.0}
    client.ok("play")
    first = client.frame(lambda f: f.header["playing"])
    second = client.frame(lambda f: f.header["playing"])
    assert second.iteration - first.iteration == 3 * (second.header["seq"] - first.header["seq"])
    client.ok("pause")
    client.ok("pace", slow_motion=0.05)
    client.ok("play")
    first = client.frame(lambda f: f.header["playing"])
    second = client.frame(lambda f: f.header["playing"])
    assert second.iteration - first.iteration == second.header["seq"] - first.header["seq"]
    client.ok("pause")


def test_a_preset_in_the_url_starts_the_session_there(connect_ws: Connect) -> None:
    client = connect_ws(query="preset=dirac_gan")
    assert client.hello["preset"] == "dirac_gan" and client.hello["config"]["dataset"] == "dirac"
    assert client.frame().header["kind"] == "dirac"
    unknown = connect_ws(query="preset=nope")
    assert unknown.hello["preset"] == "ring8_wgan_gp"


def test_a_preset_warmup_runs_before_the_first_frame(connect_ws: Connect) -> None:
    """The saturated-discriminator lesson starts with D trained alone: the first frame
    already shows a step-shaped D and no push at the fakes, at iteration 0."""
    client = connect_ws(query="preset=saturated_discriminator")
    frame = client.frame()
    assert frame.iteration == 0
    assert abs(frame.arrays["fake_grad"]).mean() < 1e-3
    assert frame.arrays["d_line"].max() > 0.99 and frame.arrays["d_line"].min() < 0.01
    replay = client.ok("export")["replay"]
    assert replay["lanes"][0]["commands"][0][1:] == ["step_d", {"n": 300}]


def test_an_update_while_paused_sends_a_frame_of_the_new_version(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    ack = client.ok("update", patch={"opt_g": {"lr": 5e-4}})
    assert ack["playing"] is False
    frame = client.frame()
    assert frame.version == ack["version"] and not frame.header["playing"]


def test_costly_metrics_come_at_most_twice_a_second(connect_ws: Connect) -> None:
    client = connect_ws()
    client.small()
    client.ok("play")
    started = time.monotonic()
    evaluations = []

    def collect(message: Frame | dict) -> bool:
        if isinstance(message, dict) and message["type"] == "evaluation":
            evaluations.append(message)
        return time.monotonic() - started > 2.0

    client.next(collect)
    client.ok("pause")
    elapsed = time.monotonic() - started
    assert 1 <= len(evaluations) <= 2 * elapsed + 1
    assert {"w1", "w1_floor", "modes_covered"} <= evaluations[-1]["metrics"].keys()
    iterations = [evaluation["iteration"] for evaluation in evaluations]
    assert iterations == sorted(set(iterations))
