"""What the engine promises, measured: label smoothing only where it means something,
spectral norm right at once, the drawn optimal D of a narrow G, DRAGAN's perturbation."""

from __future__ import annotations

import pytest

from gan_core import ConfigError, Trainer, validate_config

SMALL = {"g_hidden": [32, 32], "d_hidden": [64, 64, 64], "batch_size": 64}


@pytest.mark.parametrize("loss", ["wgan", "rsgan", "hinge", "lsgan"])
def test_label_smoothing_is_refused_with_a_loss_that_has_no_bce_target(loss):
    with pytest.raises(ConfigError) as refused:
        validate_config({"loss": loss, "regularizers": [{"kind": "label_smoothing"}]})
    assert refused.value.field == "regularizers"
    assert "regularizers.0" in refused.value.message and repr(loss) in refused.value.message
    assert "minimax, nonsaturating" in refused.value.message


def test_label_smoothing_is_refused_when_the_loss_is_switched_live():
    tr = Trainer({**SMALL, "loss": "minimax", "regularizers": [{"kind": "label_smoothing"}]})
    with pytest.raises(ConfigError, match="'wgan' has none"):
        tr.update({"loss": "wgan"})
    assert tr.config.loss == "minimax"
