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

if failures:
    print("closed_loop_ceiling_test: FAILED\n  " + "\n  ".join(failures))
    sys.exit(1)
print("closed_loop_ceiling_test: ok")
