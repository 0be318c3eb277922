"""The Trainer's contract: live updates, validation, reproducibility, divergence, plug-ins."""

from __future__ import annotations

import itertools
import math
import textwrap

import numpy as np
import pytest
import torch

import gan_core.trainer as trainer_module
from gan_core import LOSSES, REGULARIZERS, ConfigError, TrainConfig, Trainer, load_plugin, replay
from gan_core.trainer import TRAJECTORY_POINTS

SMALL = {"g_hidden": [32, 32], "d_hidden": [32, 32], "batch_size": 64}


def small(**overrides) -> dict:
    return {**SMALL, **overrides}


@pytest.mark.parametrize(
    ("patch", "field", "words"),
    [
        ({"loss": "nope"}, "loss", "allowed: minimax"),
        ({"opt_d": {"lr": 100}}, "opt_d.lr", "less than or equal to 10"),
        ({"regularizers": [{"kind": "gp", "weight": -1}]}, "regularizers.0.weight", "[0, 1000]"),
        ({"regularizers": [{"kind": "nope"}]}, "regularizers.0.kind", "allowed: weight_clip"),
        ({"batch_size": "many"}, "batch_size", "integer"),
        ({"d_steps": 0}, "d_steps", "greater than or equal to 1"),
        ({"target": {"means": [0, 1], "stds": [1]}}, "target", "same length"),
        ({"colour": "red"}, "colour", "not an option"),
        ({"g_hidden": [2000]}, "g_hidden.0", "less than or equal to 1024"),
    ],
)
def test_invalid_fields_are_named_with_what_is_allowed(patch, field, words) -> None:
    with pytest.raises(ConfigError) as caught:
        Trainer(small(**patch))
    assert caught.value.field == field
    assert words in caught.value.message


def test_points_target_needs_points() -> None:
    with pytest.raises(ConfigError) as caught:
        Trainer(small(dataset="points"))
    assert caught.value.field == "target.points"


def test_architecture_changes_apply_on_reset_only() -> None:
    tr = Trainer(small())
    with pytest.raises(ConfigError, match=r"g_hidden: .*reset"):
        tr.update({"g_hidden": [16]})
    with pytest.raises(ConfigError, match=r"dataset: .*reset"):
        tr.update({"dataset": "gaussian1d"})
    assert tr.config.g_hidden == [32, 32]
    tr.reset(small(g_hidden=[16]))
    assert tr.config.g_hidden == [16] and tr.iteration == 0


def test_every_loss_to_every_loss_and_every_regularizer_on_and_off_stays_finite() -> None:
    tr = Trainer(small(batch_size=32, d_steps=1))
    losses = [name for name in LOSSES.names() if LOSSES.get(name).needs_discriminator is None]
    for a, b in itertools.permutations(losses, 2):
        tr.update({"loss": a})
        tr.step(2)
        tr.update({"loss": b})
        tr.step(2)
    tr.update({"loss": "nonsaturating"})  # a logistic loss, which label smoothing needs
    for kind in REGULARIZERS.names():
        tr.update({"regularizers": [{"kind": kind}]})
        tr.step(3)
        tr.update({"regularizers": []})
        tr.step(2)
    all_on = [{"kind": kind} for kind in REGULARIZERS.names() if kind != "weight_clip"]
    tr.update({"regularizers": all_on, "update_scheme": "simultaneous"})
    tr.step(5)
    assert tr.halt is None
    assert all(math.isfinite(v) for v in tr.cheap_metrics().values())
    assert np.isfinite(tr.sample(100)).all()


def test_learning_rate_is_edited_in_place_and_moments_kept_by_default() -> None:
    tr = Trainer(small())
    tr.step(3)
    opt = tr.opt_d
    moments = opt.state[next(iter(tr.D.parameters()))]["exp_avg"].clone()
    tr.update({"opt_d": {"lr": 3e-4}, "loss": "hinge"})
    assert tr.opt_d is opt and opt.param_groups[0]["lr"] == 3e-4
    assert torch.equal(opt.state[next(iter(tr.D.parameters()))]["exp_avg"], moments)
    tr.update({"loss": "lsgan"}, reset_moments=True)
    assert tr.opt_d is not opt and not tr.opt_d.state


def test_optimizer_kind_change_makes_a_fresh_optimizer() -> None:
    tr = Trainer(small())
    tr.step(2)
    tr.update({"opt_g": {"name": "rmsprop", "lr": 5e-5}})
    assert isinstance(tr.opt_g, torch.optim.RMSprop) and tr.opt_g.param_groups[0]["lr"] == 5e-5
    tr.step(2)
    assert tr.halt is None


def test_spectral_norm_toggles_live_and_keeps_the_optimizer_state() -> None:
    tr = Trainer(small())
    tr.step(3)
    params = list(tr.D.parameters())
    tr.update({"regularizers": [{"kind": "spectral_norm"}]})
    tr.step(3)
    assert list(tr.D.parameters()) == params
    assert all(p in tr.opt_d.state for p in params)
    tr.update({"regularizers": []})
    tr.step(1)
    assert tr.halt is None


def test_probes_do_not_advance_spectral_norm_or_the_training_rng() -> None:
    tr = Trainer(small(regularizers=[{"kind": "spectral_norm"}]))
    tr.step(2)
    u_before = [m.u.clone() for m in tr.D.modules() if hasattr(m, "u")]
    rng_before = tr.rng.get_state().clone()
    tr.snapshot({"field": 8, "manifold": 8})
    tr.evaluate()
    assert all(
        torch.equal(a, m.u)
        for a, m in zip(u_before, [m for m in tr.D.modules() if hasattr(m, "u")], strict=True)
    )
    assert torch.equal(rng_before, tr.rng.get_state())


def assert_same_snapshot(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, b[key]), key
        else:
            assert value == b[key], key


@pytest.mark.parametrize("dataset", ["ring8", "mixture1d", "dirac"])
def test_a_saved_run_restores_and_goes_on_exactly_as_the_original(dataset) -> None:
    view = {"grid": 16, "samples": 32, "field": 4, "manifold": 4}
    regularizers = [{"kind": "spectral_norm"}, {"kind": "instance_noise", "weight": 0.1}]
    tr = Trainer(small(dataset=dataset, regularizers=regularizers))
    tr.step(3)
    tr.update({"opt_d": {"lr": 5e-4}})
    saved = tr.save()
    copy = Trainer.restore(saved)
    assert_same_snapshot(copy.snapshot(view), tr.snapshot(view))
    assert copy.commands == tr.commands and copy.iteration == tr.iteration == 3
    for run in (tr, copy):
        run.step(4, part="d")
        run.step(5)
    assert_same_snapshot(copy.snapshot(view), tr.snapshot(view))
    assert copy.evaluate(300) == tr.evaluate(300)


def test_a_saved_halted_run_keeps_its_halt() -> None:
    sgd = {"name": "sgd", "lr": 10.0}
    tr = Trainer(small(loss="lsgan", regularizers=[], opt_d=sgd, opt_g=sgd))
    tr.step(200)
    assert tr.halt is not None
    copy = Trainer.restore(tr.save())
    assert copy.halt == tr.halt
    assert_same_snapshot(copy.snapshot(), tr.snapshot())


def test_the_dirac_trajectory_is_bounded_spans_the_run_and_ends_at_the_current_point() -> None:
    tr = Trainer({"dataset": "dirac", "loss": "wgan", "opt_g": {"name": "sgd", "lr": 0.01},
                  "opt_d": {"name": "sgd", "lr": 0.01}})  # fmt: skip
    first = tr.trajectory[0]
    for steps in (1000, 2500, 7):
        tr.step(steps)
        assert len(tr.trajectory) <= TRAJECTORY_POINTS + 1
        assert tr.trajectory[0] == first, "it starts where the run started"
        assert tr.trajectory[-1] == (tr.G.theta.item(), tr.D.body.weight.item())
    assert len(tr.trajectory) > TRAJECTORY_POINTS // 2
    # The same points as an unbounded record taken every stride iterations.
    again = Trainer(tr.config)
    points = [again.trajectory[0]]
    for _ in range(tr.iteration):
        again.step(1)
        points.append(again.trajectory[-1])
    stride = tr.iteration // (len(tr.trajectory) - 2)
    stride = 1 << (stride.bit_length() - 1)  # a power of two
    assert tr.trajectory[:-1] == points[: tr.iteration : stride][: len(tr.trajectory) - 1]


def test_live_edits_at_one_iteration_are_one_log_entry_that_replays_the_same() -> None:
    tr = Trainer(small(seed=3))
    tr.step(2)
    for i in range(500):  # a slider dragged while paused
        tr.update({"opt_d": {"lr": 1e-4 * (1 + i % 7)}})
    tr.update({"loss": "hinge"})
    tr.step(1, part="d")
    tr.step(1, part="d")
    tr.update({"opt_g": {"name": "sgd", "lr": 0.01}})  # a change of kind is not merged
    tr.update({"opt_g": {"lr": 0.02}})
    tr.step(3)
    assert [kind for _, kind, _ in tr.commands] == ["update", "step_d", "update", "update"]
    assert tr.commands[0][2]["patch"] == {"opt_d": {"lr": pytest.approx(3e-4)}, "loss": "hinge"}
    assert tr.commands[1][2] == {"n": 2}
    again = replay(small(seed=3), tr.commands, tr.iteration)
    np.testing.assert_array_equal(again.sample(300), tr.sample(300))


def test_the_command_log_is_capped_with_an_error_that_says_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr(trainer_module, "MAX_COMMANDS", 3)
    tr = Trainer(small())
    for _ in range(3):
        tr.update({"opt_d": {"lr": 2e-4}}, reset_moments=True)  # at one iteration: merged
        tr.step(1)
    assert tr.commands_full()
    with pytest.raises(ConfigError) as error:
        tr.update({"opt_d": {"lr": 3e-4}})
    assert error.value.field == "patch" and "reset" in error.value.message
    tr.reset()
    tr.update({"opt_d": {"lr": 3e-4}})  # a reset starts a new log


def test_the_command_log_is_bounded_in_bytes_too(monkeypatch) -> None:
    """Patches carrying a whole points target are large: the log's bytes are capped as well,
    and a restored run keeps counting from where it was."""
    monkeypatch.setattr(trainer_module, "MAX_COMMAND_BYTES", 2000)
    tr = Trainer(small(dataset="points", target={"points": [[0.0, 0.0]]}))
    points = {"target": {"points": [[0.125 * i, 0.25] for i in range(60)]}}  # 879 bytes as JSON
    tr.update(points)
    tr.step(1)
    again = Trainer.restore(tr.save())
    for run in (tr, again):
        run.update(points)
        run.step(1)
        with pytest.raises(ConfigError) as error:
            run.update(points)
        assert error.value.field == "patch" and "KiB" in error.value.message
        assert run.commands_full() is False  # a small edit still fits
        run.update({"opt_d": {"lr": 3e-4}})


def test_spectral_norm_bounds_the_critic_slope() -> None:
    tr = Trainer(small(loss="wgan", regularizers=[{"kind": "spectral_norm"}]))
    tr.step(30)
    # each layer has norm 1 and ReLU is 1-Lipschitz, so ||grad D|| <= 1 everywhere
    assert tr.snapshot()["metrics"]["grad_norm_fake"] <= 1.0 + 1e-3


def test_same_config_and_commands_replay_bit_for_bit() -> None:
    tr = Trainer(small(seed=7))
    tr.step(10)
    tr.update({"loss": "hinge", "opt_d": {"lr": 2e-4}})
    tr.step(1, part="d")
    tr.step(5)
    tr.update({"regularizers": [{"kind": "r1", "weight": 2.0}]}, reset_moments=True)
    tr.step(1, part="g")
    tr.step(7)
    again = replay(small(seed=7), tr.commands, tr.iteration)
    assert again.iteration == tr.iteration == 22
    np.testing.assert_array_equal(again.sample(500), tr.sample(500))
    different = Trainer(small(seed=8))
    different.step(22)
    assert not np.array_equal(different.sample(500), tr.sample(500))


def test_divergence_halts_names_the_quantity_and_recovers_with_a_smaller_lr() -> None:
    sgd = {"name": "sgd", "lr": 10.0}
    tr = Trainer(small(loss="lsgan", regularizers=[], opt_d=sgd, opt_g=sgd))
    tr.step(200)
    assert tr.halt is not None and tr.halt.kind == "diverged"
    assert tr.halt.quantity in {"d_loss", "g_loss", "grad_d", "grad_g", "param_d", "param_g"}
    assert "Lower the learning rate" in tr.halt.message
    at = tr.iteration
    tr.step(10)
    assert tr.iteration == at  # halted: no progress
    assert all(torch.isfinite(p).all() for p in tr.D.parameters())
    tr.update({"opt_d": {"lr": 1e-3, "name": "adam"}, "opt_g": {"lr": 1e-3, "name": "adam"}})
    assert tr.halt is None
    tr.step(20)
    assert tr.halt is None and tr.iteration == at + 20


def test_a_failing_plugin_loss_halts_with_an_error_instead_of_raising(tmp_path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text(
        textwrap.dedent(
            '''
            from gan_core import register_loss

            @register_loss("broken_for_test")
            class Broken:
                """Raises on purpose."""
                def d_loss(real, fake):
                    raise RuntimeError("oops")
                def g_loss(real, fake):
                    return fake.mean()
            '''
        )
    )
    load_plugin(plugin)
    tr = Trainer(small(loss="broken_for_test"))
    tr.step(3)
    assert tr.halt is not None and tr.halt.kind == "error" and "oops" in tr.halt.message


def test_plugin_loss_is_valid_in_config_and_listed_in_schema(tmp_path) -> None:
    plugin = tmp_path / "mine.py"
    plugin.write_text(
        textwrap.dedent(
            '''
            import torch.nn.functional as F
            from gan_core import register_loss

            @register_loss("softhinge_for_test", shows_probability=False)
            class SoftHinge:
                """A smooth hinge.

                L_D = E[softplus(1 - D(x))] + E[softplus(1 + D(G(z)))];  L_G = -E[D(G(z))]
                """
                def d_loss(real, fake):
                    return F.softplus(1 - real).mean() + F.softplus(1 + fake).mean()
                def g_loss(real, fake):
                    return -fake.mean()
            '''
        )
    )
    load_plugin(plugin)
    assert "softhinge_for_test" in TrainConfig.model_json_schema()["properties"]["loss"]["enum"]
    tr = Trainer(small(loss="softhinge_for_test"))
    tr.step(5)
    assert tr.halt is None
    assert LOSSES.get("softhinge_for_test").formula.startswith("L_D = E[softplus")


@pytest.mark.parametrize(
    ("dataset", "kind", "keys"),
    [
        ("ring8", "2d", {"d_grid", "field", "manifold"}),
        (
            "mixture1d",
            "1d",
            {"xs", "d_line", "fake_density", "real_density", "d_optimal", "g_grad_line"},
        ),
        ("dirac", "dirac", {"theta", "psi", "dirac_field", "trajectory", "eigenvalues", "d_line"}),
    ],
)
def test_snapshot_carries_what_each_view_needs(dataset, kind, keys) -> None:
    tr = Trainer(small(dataset=dataset, loss="nonsaturating", regularizers=[]))
    tr.step(3)
    snap = tr.snapshot({"grid": 32, "samples": 64, "field": 8, "manifold": 6})
    assert snap["kind"] == kind and snap["iteration"] == 3
    assert keys <= set(snap)
    assert snap["fake"].shape == snap["fake_grad"].shape == (64, tr.config.dim)
    if kind == "2d":
        assert snap["d_grid"].shape == (32, 32) and snap["field"].shape == (8, 8, 2)
        assert snap["d_grid"].min() >= 0 and snap["d_grid"].max() <= 1  # a probability
    if kind == "1d":
        assert np.all((snap["d_optimal"] >= 0) & (snap["d_optimal"] <= 1))
        area = np.trapezoid(snap["real_density"], snap["xs"])
        assert area == pytest.approx(1.0, abs=0.02)
    if kind == "dirac":
        assert snap["trajectory"].shape == (4, 2) and snap["dirac_field"].shape == (21, 21, 2)


def test_colour_centre_of_a_shift_invariant_critic_is_between_real_and_fake() -> None:
    tr = Trainer(small(dataset="separated1d", loss="wgan", regularizers=[{"kind": "gp"}]))
    tr.step(100, part="d")
    snap = tr.snapshot()
    on_real = np.interp(4.0, snap["xs"], snap["d_line"])
    on_fake = np.interp(float(snap["fake"].mean()), snap["xs"], snap["d_line"])
    assert min(on_real, on_fake) < snap["undecided"] < max(on_real, on_fake)
    assert Trainer(small(loss="hinge")).snapshot()["undecided"] == 0.0
    assert Trainer(small(loss="minimax")).snapshot()["undecided"] == 0.5
