"""Frame encoding and command parsing, against the decoder written from docs/protocol.md."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import decode_frame
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from server.protocol import FrameHeader, ProtocolError, decode, encode_frame, parse_command
from server.settings import Limits

elements = st.floats(width=32, allow_nan=True, allow_infinity=True)
values = arrays(np.float32, st.tuples(st.integers(1, 40), st.integers(1, 3)), elements=elements)


def header() -> FrameHeader:
    return FrameHeader(lane=1, seq=0, iteration=1, version=2, playing=False, part=None, kind="2d")


@given(values)
def test_q16_round_trip_is_within_the_stated_error(array: np.ndarray) -> None:
    frame = decode_frame(encode_frame(header(), {"a": array, "b": array[:1]}, "q16"))
    (info, _) = frame.header["arrays"]
    decoded = frame.arrays["a"]
    finite = np.isfinite(array)
    assert np.array_equal(np.isnan(decoded), ~finite), "not finite <-> code 65535 <-> NaN"
    if finite.any():
        exact = array[finite].astype(np.float64)
        assert (info["lo"], info["hi"]) == (exact.min(), exact.max())
        bound = (info["hi"] - info["lo"]) / 131068 * (1 + 1e-9)
        assert np.abs(decoded[finite] - exact).max() <= bound + 1e-300


def test_f32_frames_are_exact_and_aligned() -> None:
    arrays_in = {"odd": np.arange(3, dtype=np.float32), "grid": np.ones((5, 7), np.float32)}
    data = encode_frame(header(), arrays_in, "f32")
    frame = decode_frame(data)
    assert frame.header["kind"] == "2d" and frame.header["version"] == 2
    for name, array in arrays_in.items():
        np.testing.assert_array_equal(frame.arrays[name], array)


def test_q16_arrays_of_odd_length_stay_aligned() -> None:
    frame = decode_frame(encode_frame(header(), {"a": np.ones(3), "b": np.arange(5.0)}, "q16"))
    assert [info["offset"] for info in frame.header["arrays"]] == [0, 8]
    np.testing.assert_allclose(frame.arrays["b"], np.arange(5.0), atol=1e-4)


def test_non_finite_scalars_in_the_header_become_null() -> None:
    data = encode_frame(header().model_copy(update={"undecided": float("nan")}), {}, "q16")
    assert decode_frame(data).header["undecided"] is None


@pytest.mark.parametrize(
    ("text", "code", "field", "command_id"),
    [
        ("{", "bad_json", None, None),
        ('"play"', "bad_json", None, None),
        ('{"type": "play", "id": 3, "x": 1}', "invalid", "x", 3),
        ('{"type": "jump", "id": "a"}', "unknown_command", "type", "a"),
        ('{"type": "view", "id": 1, "grid": 4}', "invalid", "grid", 1),
        ('{"type": "view", "precision": "f64"}', "invalid", "precision", None),
        ('{"type": "step", "n": 1001}', "invalid", "n", None),
        ('{"type": "step", "id": 2, "n": "5"}', "invalid", "n", 2),
        ('{"type": "step", "n": true}', "invalid", "n", None),
        ('{"type": "step", "n": 2.0}', "invalid", "n", None),
        ('{"type": "play", "id": true}', "invalid", "id", None),
        ('{"type": "play", "id": 1.5}', "invalid", "id", None),
        (json.dumps({"type": "play", "id": "x" * 65}), "invalid", "id", None),
        ('{"type": "view", "grid": "64"}', "invalid", "grid", None),
        (json.dumps({"type": "play", "id": 2**53}), "invalid", "id", None),
        (json.dumps({"type": "step", "id": 2**53 - 1, "n": 0}), "invalid", "n", 2**53 - 1),
        ('{"type": ["play"], "id": 5}', "unknown_command", "type", 5),
        ('{"type": {"a": 1}}', "unknown_command", "type", None),
        ('{"type": "play", "id": "\\ud800"}', "bad_json", None, None),
        ('{"type": "view", "omit": ["\\udfff"]}', "bad_json", None, None),
    ],
)
def test_parse_errors_name_the_field_and_echo_the_id(
    text: str, code: str, field: str | None, command_id: object
) -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_command(decode(text), Limits())
    assert (raised.value.code, raised.value.field, raised.value.id) == (code, field, command_id)


def test_surrogate_pairs_are_fine_and_slow_motion_reads_booleans() -> None:
    view = parse_command(decode('{"type": "view", "omit": ["\\ud83d\\ude00"]}'), Limits())
    assert view.changes() == {"omit": ["\U0001f600"]}
    pace = parse_command(decode('{"type": "pace", "slow_motion": true}'), Limits())
    assert pace.changes() == {"slow_motion": 1.0}


def test_every_documented_command_parses() -> None:
    examples = [
        {"type": "play"},
        {"type": "pause"},
        {"type": "step", "n": 1, "part": "both"},
        {"type": "reset", "preset": "dirac_gan"},
        {"type": "reset", "config": {}, "patch": {"loss": "hinge"}},
        {"type": "update", "patch": {"loss": "hinge"}, "reset_moments": False},
        {"type": "view", "grid": 64, "samples": 256, "trails": 0, "precision": "q16", "omit": []},
        {"type": "pace", "fps": 30, "steps_per_frame": 0, "slow_motion": 0.0},
        {"type": "export"},
        {"type": "end"},
    ]
    for example in examples:
        assert parse_command(decode(json.dumps(example)), Limits()).type == example["type"]


def test_view_options_are_the_engines_plus_the_frames_own() -> None:
    from gan_core import ViewOptions as EngineView
    from server.protocol import ViewOptions

    assert ViewOptions().probe_options() == EngineView().model_dump()
    assert set(ViewOptions.model_fields) - set(EngineView.model_fields) == {
        "trails",
        "precision",
        "omit",
        "spectrum",
    }


def test_an_option_beyond_the_engines_range_is_reported_with_the_servers() -> None:
    with pytest.raises(ProtocolError) as raised:
        parse_command(decode('{"type": "view", "grid": 300}'), Limits())  # engine: at most 256
    assert raised.value.message == "grid must be in [8, 128] on this server, got 300"


# ----- what docs/protocol.md promises, through the real server -----------------------------
def test_only_full_steps_advance_the_iteration_and_acks_read_it_after(connect_ws) -> None:
    client = connect_ws(query="preset=dirac_gan")
    assert client.ok("step", n=3, part="d")["iteration"] == 0
    assert client.ok("step", n=2)["iteration"] == 2  # after the steps
    assert client.ok("step", n=4, part="g")["iteration"] == 2


def test_a_dirac_frame_has_1d_samples_and_a_trajectory_ending_at_the_point(connect_ws) -> None:
    client = connect_ws(query="preset=dirac_gan")
    ack = client.ok("step", n=5, part="d")
    frame = client.frame(lambda f: f.version == ack["version"] and f.header["part"] == "d")
    assert frame.arrays["real"].shape == (256, 1) and not frame.arrays["real"].any()
    lo, hi = frame.header["dirac_extent"]
    assert lo == -hi
    last = frame.arrays["trajectory"][-1]
    assert tuple(last) == pytest.approx((frame.header["theta"], frame.header["psi"]), abs=1e-3)


def test_trails_grow_to_k_frames_after_they_start_over(connect_ws) -> None:
    client = connect_ws()
    client.small()
    client.ok("view", trails=3)
    frame = client.frame()  # paused: the view's frame
    assert "trails" not in frame.arrays  # the first frame after the trails started over
    counts = []
    for _ in range(4):
        step = client.ok("step")
        frame = client.frame(lambda f, at=step["iteration"]: f.iteration == at)
        counts.append(frame.arrays["trails"].shape[0])
    assert counts == [1, 2, 3, 3]


def test_a_session_survives_a_1009_close(connect_ws) -> None:
    from websockets.exceptions import ConnectionClosedError

    client = connect_ws()
    client.small()
    at = client.ok("step", n=2)["iteration"]
    client.ws.send("x" * (1024 * 1024 + 1))
    with pytest.raises(ConnectionClosedError):
        while True:
            client.ws.recv(timeout=10)
    assert client.ws.close_code == 1009
    again = connect_ws(query=f"session={client.session}")
    assert again.hello["resumed"] and again.hello["iteration"] == at


def test_iteration_work_counts_unrolling_extragradient_and_only_real_penalties() -> None:
    """Measured here (unrolled_ring's model, one thread): unroll_steps 5 costs 9x an
    iteration without (estimated 6.3x; 1x before it was counted), extragradient 2x (2x);
    clipping adds no double-backward, a penalty does."""
    from gan_core.config import validate_config
    from server.protocol import check_config_limits, iteration_work

    base = {"regularizers": [], "d_steps": 1, "d_hidden": [128, 128], "g_hidden": [128, 128]}
    plain = iteration_work(validate_config(base))
    unrolled = iteration_work(validate_config({**base, "loss": "minimax", "unroll_steps": 5}))
    extra = iteration_work(validate_config({**base, "update_scheme": "extragradient"}))
    clipped = validate_config({**base, "regularizers": [{"kind": "weight_clip"}]})
    penalised = validate_config({**base, "regularizers": [{"kind": "r1"}]})
    assert 5 < unrolled / plain < 15 and extra == 2 * plain
    assert iteration_work(clipped) == plain < iteration_work(penalised)
    heavy = validate_config({**base, "loss": "minimax", "unroll_steps": 10, "batch_size": 1024})
    with pytest.raises(ProtocolError) as refused:
        check_config_limits(heavy, Limits())
    assert "unroll_steps 10" in str(refused.value)
