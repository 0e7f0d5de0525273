#!/usr/bin/env python3
"""Checks bench/closed_loop_ceiling.py against cases worked by hand.

    python3 bench/closed_loop_ceiling_test.py
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import closed_loop_ceiling as c  # noqa: E402

failures = []


def near(name, got, want, tolerance):
    if abs(got - want) > tolerance * want:
        failures.append("{}: {:.1f}, expected {:.1f}".format(name, got, want))


def ceiling(producers=64, cohorts=1, median=5.0, p99=20.0, floor=0.0, added=0.0):
    return c.ceiling(producers, cohorts, median, p99, floor, added, 60.0, 1)


# A fixed latency (p99 = median): one write per latency, whatever the cohorts.
near("fixed 5 ms, 64 producers", ceiling(p99=5.0), 64 / 0.005, 0.001)
near("fixed 5 ms, 4 cohorts", ceiling(cohorts=4, p99=5.0), 64 / 0.005, 0.001)
near("fixed 5 ms + 3 added", ceiling(p99=5.0, added=3.0), 64 / 0.008, 0.001)
near("fixed 5 ms, floor 8", ceiling(p99=5.0, floor=8.0), 64 / 0.008, 0.001)
# One cohort: producers over the lognormal's mean, median * exp(sigma^2 / 2).
sigma = math.log(4) / c.Z_99
near("lognormal, 1 cohort", ceiling(), 64 / (0.005 * math.exp(sigma * sigma / 2)), 0.02)
# In-order acknowledgement: more cohorts in flight wait for the tail ahead.
if not ceiling(cohorts=1) > ceiling(cohorts=2) > ceiling(cohorts=4):
    failures.append("more cohorts should lower the ceiling")
if not ceiling(floor=4.0) < ceiling(floor=0.0):
    failures.append("a floor should lower the ceiling")

# The open loop, a fixed latency: with slots to spare each event waits its own
# write only; with one write at a time it also waits for the one in flight.
p50, p99 = c.open_loop(1000, 64, 5.0, 5.0, 0.0, 0.0, 20.0, 1)
near("open loop, fixed 5 ms, slots to spare: p50", p50, 5.0, 0.001)
near("open loop, fixed 5 ms, slots to spare: p99", p99, 5.0, 0.001)
p50, _ = c.open_loop(1000, 1, 5.0, 5.0, 0.0, 0.0, 20.0, 1)
if not 5.0 * 1.2 < p50 < 5.0 * 2:
    failures.append("open loop, one write at a time: p50 {:.2f}, expected between 6 and "
                    "10 ms".format(p50))
# A lognormal tail, acknowledged in order: a write done early waits for the
# slower ones before it (8.9 ms median with seed 1; 7.5 if each write counted
# its own time only).
p50, p99 = c.open_loop(1000, 4, 5.0, 20.0, 0.0, 0.0, 20.0, 1)
if not 8.0 < p50 < p99:
    failures.append("open loop, lognormal: p50 {:.2f} (expected above 8), p99 {:.2f}".format(
        p50, p99))

if failures:
    print("closed_loop_ceiling_test: FAILED\n  " + "\n  ".join(failures))
    sys.exit(1)
print("closed_loop_ceiling_test: ok")
