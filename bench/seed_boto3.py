#!/usr/bin/env python3
"""The seed's journal algorithm with boto3, for comparison: one synchronous
PutItem per event under a lock (prevayler-clj-aws), THREADS producers
(1, 8, 64, ...), 100-byte events. Prints `name value unit` lines:

    seed.tN.events_per_s / p50_ms / p99_ms

    seed_boto3.py --endpoint URL --table T [--threads N] [--seconds S]
"""
import argparse
import threading
import time

from seed_table import create_seed_table, seed_client

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--table", required=True)
parser.add_argument("--threads", type=int, default=1)
parser.add_argument("--seconds", type=float, default=5)
args = parser.parse_args()

client = seed_client(args.endpoint)
try:
    create_seed_table(client, args.table)
except client.exceptions.ResourceInUseException:
    pass

lock = threading.Lock()
order = [0]
latencies = []
stop = time.monotonic() + args.seconds
event = b"e" * 100


def producer():
    while time.monotonic() < stop:
        before = time.monotonic()
        with lock:  # the seed's handle!: the journal write happens under the lock
            order[0] += 1
            client.put_item(TableName=args.table,
                            Item={"partkey": {"N": "1"}, "order": {"N": str(order[0])},
                                  "content": {"B": event}})
        latencies.append(time.monotonic() - before)


start = time.monotonic()
threads = [threading.Thread(target=producer) for _ in range(args.threads)]
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
print("%sevents_per_s %.6g events/s" % (name, order[0] / elapsed))
print("%sp50_ms %.6g ms" % (name, percentile(0.50)))
print("%sp99_ms %.6g ms" % (name, percentile(0.99)))
