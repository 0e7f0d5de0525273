#!/usr/bin/env python3
"""The seed's recovery with boto3, for comparison: the seed's journal layout
(prevayler-clj-aws) is one DynamoDB item per event, {partkey, order,
content}, and recovery is a paged, strongly consistent Query over the
partition. Seeds ITEMS such items (100-byte content; BatchWriteItem, not
timed), then times the Query, touching every item. Prints `name value unit`:

    seed_replay.items / seed_replay.seconds / seed_replay.events_per_s

    seed_replay_boto3.py --endpoint URL --table T [--items N] [--seed-endpoint URL]

--seed-endpoint seeds through another endpoint than the timed Query's:
moto directly, when --endpoint is the capacity model's proxy, whose
per-partition write limit would make the untimed seeding take minutes
(100,000 items of 1 write unit each at 1,000 units/s) and throttle it.
"""
import argparse
import concurrent.futures
import time

from seed_table import create_seed_table, seed_client

parser = argparse.ArgumentParser()
parser.add_argument("--endpoint", required=True)
parser.add_argument("--table", required=True)
parser.add_argument("--items", type=int, default=100_000)
parser.add_argument("--seed-endpoint", help="where to seed (default: --endpoint)")
args = parser.parse_args()

BATCH_ITEMS_MAX = 25  # DynamoDB's BatchWriteItem limit
SEED_THREADS = 4

client = seed_client(args.endpoint)
seeder = seed_client(args.seed_endpoint) if args.seed_endpoint else client
create_seed_table(seeder, args.table)
event = b"e" * 100


def seed(first):
    requests = [{"PutRequest": {"Item": {"partkey": {"N": "1"}, "order": {"N": str(order)},
                                         "content": {"B": event}}}}
                for order in range(first, min(first + BATCH_ITEMS_MAX, args.items + 1))]
    while requests:
        reply = seeder.batch_write_item(RequestItems={args.table: requests})
        requests = reply.get("UnprocessedItems", {}).get(args.table, [])


with concurrent.futures.ThreadPoolExecutor(SEED_THREADS) as pool:
    list(pool.map(seed, range(1, args.items + 1, BATCH_ITEMS_MAX)))

start = time.monotonic()
items = 0
expected_order = 1
query = {"TableName": args.table, "ConsistentRead": True,
         "KeyConditionExpression": "partkey = :p",
         "ExpressionAttributeValues": {":p": {"N": "1"}}}
while True:
    page = client.query(**query)
    for item in page["Items"]:
        order = int(item["order"]["N"])
        if order != expected_order or len(item["content"]["B"]) != len(event):
            raise SystemExit("unexpected item %d (expected %d)" % (order, expected_order))
        expected_order += 1
        items += 1
    if "LastEvaluatedKey" not in page:
        break
    query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
elapsed = time.monotonic() - start
print("seed_replay.items %d events" % items)
print("seed_replay.seconds %.6g s" % elapsed)
print("seed_replay.events_per_s %.6g events/s" % (items / elapsed))
