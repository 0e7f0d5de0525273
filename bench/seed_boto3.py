#!/usr/bin/env python3
"""The seed's journal algorithm with boto3, for comparison: one synchronous
PutItem per event under a lock (prevayler-clj-aws), THREADS producers
(1, 8, 64, ...), 100-byte events. Prints `name value unit` lines:

    seed.tN.events_per_s / p50_ms / p99_ms / events / failed_events

failed_events: PutItem calls that raised after boto3's own retries (the
producer counts the failure and carries on). --event-content text: slices of
a text of words from a small vocabulary (as prevayler_aws_bench
--event-content text), instead of 100 'e's.

    seed_boto3.py --endpoint URL --table T [--threads N] [--seconds S]
                  [--event-content fill|text]
"""
import argparse
import random
import threading
import time

from botocore.exceptions import BotoCoreError, ClientError

from seed_table import create_seed_table, seed_client

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--table", required=True)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--seconds", type=float, default=5)
parser.add_argument("--event-content", choices=["fill", "text"], default="fill")
args = parser.parse_args()

client = seed_client(args.endpoint)
try:
    create_seed_table(client, args.table)
except client.exceptions.ResourceInUseException:
    pass

lock = threading.Lock()
order = [0]
failed = [0]
latencies = []
stop = time.monotonic() + args.seconds
event_bytes = 100
vocabulary = ["account", "deposit", "withdraw", "balance", "euro", "ledger", "event",
              "snapshot", "journal", "42"]
rng = random.Random(42)
source = " ".join(rng.choice(vocabulary) for _ in range(200000)).encode()


def next_event(rng):
    if args.event_content == "fill":
        return b"e" * event_bytes
    at = rng.randrange(len(source) - event_bytes)
    return source[at:at + event_bytes]


def producer(index):
    producer_rng = random.Random(index)
    while time.monotonic() < stop:
        event = next_event(producer_rng)
        before = time.monotonic()
        with lock:  # the seed's handle!: the journal write happens under the lock
            order[0] += 1
            try:
                client.put_item(TableName=args.table,
                                Item={"partkey": {"N": "1"}, "order": {"N": str(order[0])},
                                      "content": {"B": event}})
            except (BotoCoreError, ClientError):
                failed[0] += 1
                continue
        latencies.append(time.monotonic() - before)


start = time.monotonic()
threads = [threading.Thread(target=producer, args=(i,)) for i in range(args.threads)]
for t in threads:
    t.start()
for t in threads:
    t.join()
elapsed = time.monotonic() - start
latencies.sort()


def percentile(p):
    if not latencies:
        return 0.0
    return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p))]


name = "seed.t%d." % args.threads
journaled = order[0] - failed[0]
print("%sevents_per_s %.6g events/s" % (name, journaled / elapsed))
print("%sp50_ms %.6g ms" % (name, percentile(0.50)))
print("%sp99_ms %.6g ms" % (name, percentile(0.99)))
print("%sevents %d events" % (name, journaled))
print("%sfailed_events %d events" % (name, failed[0]))
