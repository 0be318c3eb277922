import sys, time, statistics, torch

torch.set_num_threads(1)
from gan_core import Lanes
from gan_core.population import step_together


def timed(fn):
    w, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - w, time.process_time() - c


iters, rounds = int(sys.argv[1]), int(sys.argv[2])
r = {"turns 4": ([], []), "stacked 4": ([], []), "stacked 2": ([], [])}
for _ in range(rounds):
    one = Lanes(None, [{}])
    base = timed(lambda: one.step(iters))
    four = Lanes(None, [{}] * 4)
    t = timed(lambda: [l.trainer.step(iters) for l in four])
    s4 = Lanes(None, [{}] * 4)
    u = timed(lambda: step_together([l.trainer for l in s4], iters))
    s2 = Lanes(None, [{}] * 2)
    v = timed(lambda: step_together([l.trainer for l in s2], iters))
    for k, x in (("turns 4", t), ("stacked 4", u), ("stacked 2", v)):
        r[k][0].append(base[0] / x[0])
        r[k][1].append(base[1] / x[1])
for k, (w, c) in r.items():
    print(
        f"{k:10s} per lane vs one lane: wall {statistics.median(w):.2f} ({min(w):.2f}-{max(w):.2f})  cpu {statistics.median(c):.2f} ({min(c):.2f}-{max(c):.2f})"
    )
