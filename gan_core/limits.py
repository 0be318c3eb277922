"""Bounds of the engine that the web process needs too (this module imports no torch)."""

# At most 4 lanes: the page shows 4 panels legibly at 1920x1080 (lecture mode), and 4 lanes
# of the default model still train at a useful rate each (bench/bench_lanes.py).
MAX_LANES = 4
