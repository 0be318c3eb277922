"""How far a lane stacked drifts from the same lane alone, and a 1-ulp nudge from the original."""

import math, sys, torch

torch.set_num_threads(1)
from gan_core import Lanes, Trainer
from gan_core.population import step_together


def gap(a, b):
    return max(
        float((p - q).abs().max()) for p, q in zip(a.g_params + a.d_params, b.g_params + b.d_params)
    )


def fakes_gap(a, b):
    return float(abs(torch.tensor(a.sample(2000)) - torch.tensor(b.sample(2000))).max())


marks = (1, 10, 100, 250, 500, 1000)
for name, patch in (
    ("default wgan-gp", {}),
    ("nonsaturating, no penalty", {"loss": "nonsaturating", "regularizers": []}),
):
    # (1) stacked with a default lane vs alone
    lanes = Lanes(None, [{}, patch])
    alone = Lanes(None, [patch])[1].trainer
    # (2) alone vs alone with one D weight nudged by one ulp
    nudged = Lanes(None, [patch])[1].trainer
    with torch.no_grad():
        w = nudged.D.body[2].weight
        w[0, 0] = torch.nextafter(w[0, 0], torch.tensor(math.inf))
    done = 0
    for m in marks:
        step_together([l.trainer for l in lanes], m - done)
        alone.step(m - done)
        nudged.step(m - done)
        done = m
        st = lanes[2].trainer
        ea, es, en = alone.evaluate(), st.evaluate(), nudged.evaluate()
        print(
            f"{name} it {m}: stacked-vs-alone param {gap(st, alone):.2e} fakes {fakes_gap(st, alone):.3f} W1 {es['w1']:.3f} vs {ea['w1']:.3f} | 1-ulp nudge param {gap(nudged, alone):.2e} fakes {fakes_gap(nudged, alone):.3f} W1 {en['w1']:.3f}",
            flush=True,
        )
