#!/usr/bin/env python3
"""The most a closed loop of producers can reach through a latency model.

Each producer sends one event and waits until it is durable before it sends
the next. A perfect client costs nothing: the producers acknowledged by one
write are back at once and leave together in the next write (a cohort), and
every write of a journal is acknowledged in the order it was started, as the
engine must (an event is durable only with every event before it). What is
left is the model's latency alone, so producers / (mean time per cycle) is a
ceiling no client reaches; with more than one cohort in flight the in-order
acknowledgement adds the tail of the writes ahead.

Used in docs/benchmarks.md ("DynamoDB capacity model") to show what the
issue's 10,000 events/s at 64 producers asks of a latency of 5 ms median,
20 ms p99 (the proxy's lognormal), with the emulator's own time per request
as a floor (--floor-ms: prevayler_latency_proxy --latency-covers upstream
holds a reply until its drawn latency is over, so a request never takes less
than the emulator). --added-ms adds a fixed time to every draw instead: the
proxy's default, where the latency comes on top of the emulator's time.

With --open-loop-rate R it answers the open loop's question instead: events
arrive at Poisson times, R per second, and every event waiting goes out in
one write as soon as fewer than --writes-in-flight writes are unacknowledged;
it prints the latency's median and 99th percentile from arrival to
acknowledgement (prevayler_aws_bench --open-loop-rate measures ours).

  python3 bench/closed_loop_ceiling.py [--producers 64] [--median-ms 5]
      [--p99-ms 20] [--floor-ms 0,2,3,4] [--added-ms 0] [--cohorts 1,2,3,4]
      [--seconds 60] [--open-loop-rate 1000,4000 [--writes-in-flight 4]]
"""
import argparse
import heapq
import math
import random

Z_99 = 2.326347874  # the standard normal's 99th percentile


def latency_model(rng, median_ms, p99_ms, floor_ms, added_ms):
    """A function drawing one round trip, in seconds."""
    sigma = math.log(p99_ms / median_ms) / Z_99 if p99_ms > median_ms else 0.0

    def latency_s():
        drawn = rng.lognormvariate(math.log(median_ms), sigma) if sigma else median_ms
        return (max(drawn, floor_ms) + added_ms) / 1000.0
    return latency_s


def ceiling(producers, cohorts, median_ms, p99_ms, floor_ms, added_ms, seconds, seed):
    rng = random.Random(seed)
    latency_s = latency_model(rng, median_ms, p99_ms, floor_ms, added_ms)

    sizes = [producers // cohorts + (1 if i < producers % cohorts else 0) for i in range(cohorts)]
    in_flight = []  # (done at, write number, events)
    for number, size in enumerate(sizes):
        heapq.heappush(in_flight, (latency_s(), number, size))
    started = len(sizes)
    done = {}  # write number -> events, completed but not yet acknowledged
    next_to_acknowledge = 0
    acknowledged = 0
    now = 0.0
    while now < seconds:
        now, number, size = heapq.heappop(in_flight)
        done[number] = size
        while next_to_acknowledge in done:
            size = done.pop(next_to_acknowledge)
            next_to_acknowledge += 1
            acknowledged += size
            heapq.heappush(in_flight, (now + latency_s(), started, size))
            started += 1
    return acknowledged / now


def open_loop(rate, writes_in_flight, median_ms, p99_ms, floor_ms, added_ms, seconds, seed):
    """(median, p99) in ms of a perfect client's latency in an open loop."""
    rng = random.Random(seed)
    latency_s = latency_model(rng, median_ms, p99_ms, floor_ms, added_ms)
    in_flight = []  # (done at, write number)
    arrivals = {}  # write number -> its events' arrival times
    done = {}  # write number -> done at, not yet acknowledged
    waiting = []  # arrival times of events not yet in a write
    started = next_to_acknowledge = 0
    acknowledged_at = 0.0  # in order: never before the write before
    latencies = []
    next_arrival = rng.expovariate(rate)
    while next_arrival < seconds or in_flight or waiting:
        if next_arrival < seconds and (not in_flight or next_arrival <= in_flight[0][0]):
            now = next_arrival
            waiting.append(now)
            next_arrival += rng.expovariate(rate)
        else:
            now, number = heapq.heappop(in_flight)
            done[number] = now
            while next_to_acknowledge in done:
                acknowledged_at = max(acknowledged_at, done.pop(next_to_acknowledge))
                latencies.extend(acknowledged_at - a for a in arrivals.pop(next_to_acknowledge))
                next_to_acknowledge += 1
        if waiting and started - next_to_acknowledge < writes_in_flight:
            arrivals[started] = waiting
            waiting = []
            heapq.heappush(in_flight, (now + latency_s(), started))
            started += 1
    latencies.sort()
    return (1000 * latencies[len(latencies) // 2], 1000 * latencies[int(len(latencies) * 0.99)])


def numbers(text, kind):
    return [kind(part) for part in text.split(",")]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--producers", type=int, default=64)
    parser.add_argument("--median-ms", type=float, default=5.0)
    parser.add_argument("--p99-ms", type=float, default=20.0)
    parser.add_argument("--floor-ms", default="0,2,3,4")
    parser.add_argument("--added-ms", type=float, default=0.0)
    parser.add_argument("--cohorts", default="1,2,3,4")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--open-loop-rate", default="")
    parser.add_argument("--writes-in-flight", type=int, default=4)
    args = parser.parse_args()
    if (args.producers < 1 or args.median_ms <= 0 or args.p99_ms < args.median_ms or
            args.added_ms < 0 or args.seconds <= 0):
        parser.error("needs producers >= 1, 0 < median <= p99, added >= 0, seconds > 0")
    floors = numbers(args.floor_ms, float)
    if args.open_loop_rate:
        rates = numbers(args.open_loop_rate, float)
        if any(r <= 0 for r in rates) or args.writes_in_flight < 1:
            parser.error("needs rates > 0 and --writes-in-flight >= 1")
        print("open loop, latency median {} ms, p99 {} ms, {} ms added, {} writes in flight: "
              "latency p50 / p99 ms at least".format(args.median_ms, args.p99_ms, args.added_ms,
                                                     args.writes_in_flight))
        print("{:>10} ".format("floor ms") + "".join("{:>16}".format("{:,.0f} ev/s".format(r))
                                                     for r in rates))
        for floor in floors:
            cells = [open_loop(r, args.writes_in_flight, args.median_ms, args.p99_ms, floor,
                               args.added_ms, args.seconds, args.seed) for r in rates]
            print("{:>10} ".format(floor) + "".join("{:>16}".format("{:.1f} / {:.1f}".format(*c))
                                                    for c in cells))
        return
    cohorts = numbers(args.cohorts, int)
    if any(c < 1 or c > args.producers for c in cohorts):
        parser.error("each cohort count must be between 1 and --producers")
    print("producers {}, latency median {} ms, p99 {} ms, {} ms added: events/s at most".format(
        args.producers, args.median_ms, args.p99_ms, args.added_ms))
    print("{:>10} ".format("floor ms") + "".join("{:>12}".format("{} cohort(s)".format(c))
                                                 for c in cohorts))
    for floor in floors:
        row = [ceiling(args.producers, c, args.median_ms, args.p99_ms, floor, args.added_ms,
                       args.seconds, args.seed) for c in cohorts]
        print("{:>10} ".format(floor) + "".join("{:>12,.0f}".format(r) for r in row))


if __name__ == "__main__":
    main()
