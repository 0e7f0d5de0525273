#!/usr/bin/env python3
"""Checks prevayler_latency_proxy --model dynamodb against a real moto_server:
the capacity model's figures in BENCHMARKS.md (write units per event,
throttled requests, the replay's read units) are only as true as this.

    python3 bench/latency_proxy_test.py PATH/TO/prevayler_latency_proxy

Starts moto_server and the proxy on free loopback ports and stops them.
Talks DynamoDB's JSON protocol with the standard library only (moto does not
check signatures), so it needs no boto3. Checks, with limits small enough
that no timing decides the outcome:
  - the reply of each request is held at least its latency (--delay-ms);
  - a PutItem is charged one write unit per started KB of the item, counted
    as DynamoDB sizes items (attribute names plus values);
  - a write the partition's bucket cannot pay is answered with
    ProvisionedThroughputExceededException and not forwarded (moto never
    sees the item); another partition has its own bucket;
  - a Query is charged per started 4 KB of what it returned, half for an
    eventually consistent one;
  - the counters the proxy prints on SIGINT say all of the above.
"""
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

failures = []


def check(condition, what):
    if not condition:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


def dynamodb(port, operation, body):
    """One request; returns (status, reply as JSON, seconds it took)."""
    data = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810." + operation,
        # moto reads the region from the credential scope; it checks no signature.
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20261202/us-east-1/dynamodb/"
                         "aws4_request, SignedHeaders=host, Signature=0",
        "X-Amz-Date": "20261202T000000Z",
    }
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    started = time.monotonic()
    connection.request("POST", "/", body=data, headers=headers)
    reply = connection.getresponse()
    text = reply.read()
    took = time.monotonic() - started
    connection.close()
    return reply.status, json.loads(text or b"{}"), took


def item(partkey, seq, data_bytes):
    return {"partkey": {"N": str(partkey)}, "seq": {"N": str(seq)},
            "data": {"B": base64.b64encode(b"x" * data_bytes).decode()}}


if len(sys.argv) != 2:
    print(__doc__)
    sys.exit(2)
proxy_program = sys.argv[1]
moto = shutil.which("moto_server")
if not moto:
    print("FAIL: moto_server is not on PATH (bash scripts/install-deps.sh --test installs it)")
    sys.exit(1)

delay_ms = 30
table = "proxy-test"
moto_port = free_port()
processes = []
with tempfile.TemporaryDirectory() as tmp:
    try:
        moto_log = open(os.path.join(tmp, "moto.log"), "w")
        processes.append(subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(moto_port)],
                                          stdout=moto_log, stderr=subprocess.STDOUT))
        if not wait_for_port(moto_port, 60):
            print("FAIL: moto_server did not listen on 127.0.0.1:{}".format(moto_port))
            sys.exit(1)
        # Write units: 1 per second, a burst of 10 s: a new partition holds 10
        # units and gains one a second, so the third 4-unit write is refused
        # unless 2 s passed since the first (they take about 0.1 s).
        proxy = subprocess.Popen(
            [proxy_program, "--model", "dynamodb", "--listen", "0", "--upstream", str(moto_port),
             "--delay-ms", str(delay_ms), "--latency-covers", "upstream",
             "--write-units-per-s", "1", "--burst-s", "10", "--read-units-per-s", "1000"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        processes.append(proxy)
        listening = proxy.stdout.readline().split()
        if len(listening) < 2 or listening[0] != "listening":
            print("FAIL: the proxy did not say where it listens: {}".format(listening))
            sys.exit(1)
        port = int(listening[1].rpartition(":")[2])

        status, reply, took = dynamodb(port, "CreateTable", {
            "TableName": table, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "partkey", "AttributeType": "N"},
                                     {"AttributeName": "seq", "AttributeType": "N"}],
            "KeySchema": [{"AttributeName": "partkey", "KeyType": "HASH"},
                          {"AttributeName": "seq", "KeyType": "RANGE"}]})
        check(status == 200, "CreateTable through the proxy: {} {}".format(status, reply))
        check(took >= delay_ms / 1000, "a reply came back after {:.1f} ms, before its {} ms "
              "latency".format(took * 1000, delay_ms))

        # 'partkey' (7) + 1 digit (2) + 'seq' (3) + 1 digit (2) + 'data' (4) + 3,500
        # bytes = 3,518 bytes: 4 write units.
        outcomes = []
        for seq in range(1, 4):
            status, reply, took = dynamodb(port, "PutItem",
                                           {"TableName": table, "Item": item(1, seq, 3500)})
            check(took >= delay_ms / 1000, "PutItem answered in {:.1f} ms, before its {} ms "
                  "latency".format(took * 1000, delay_ms))
            outcomes.append((status, reply.get("__type", "").rpartition("#")[2]))
        check(outcomes[:2] == [(200, ""), (200, "")],
              "the first two 4-unit writes fit the 10-unit burst: {}".format(outcomes))
        check(outcomes[2] == (400, "ProvisionedThroughputExceededException"),
              "the third 4-unit write, with 2 units left, was not throttled: {}".format(
                  outcomes[2]))
        status, reply, _ = dynamodb(port, "PutItem",
                                    {"TableName": table, "Item": item(2, 1, 3500)})
        check(status == 200, "another partition has its own bucket: {} {}".format(status, reply))

        def query(consistent):
            return dynamodb(port, "Query", {
                "TableName": table, "ConsistentRead": consistent,
                "KeyConditionExpression": "partkey = :p",
                "ExpressionAttributeValues": {":p": {"N": "1"}}})

        # Two items of 3,518 bytes: 7,036 bytes, 2 read units (1 eventually consistent).
        status, reply, _ = query(True)
        check(status == 200 and reply.get("Count") == 2,
              "the throttled write reached moto, or a stored one did not: {} {}".format(
                  status, reply.get("Count")))
        status, reply, _ = query(False)
        check(status == 200, "eventually consistent Query: {} {}".format(status, reply))

        proxy.send_signal(signal.SIGINT)
        out, _ = proxy.communicate(timeout=30)
        figures = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0].startswith("model."):
                figures[parts[0]] = float(parts[1])
        prefix = "model." + table + "."
        expected = {"write_requests": 3, "write_units": 12, "throttled_writes": 1,
                    "partitions": 2, "read_requests": 2, "read_units": 3, "throttled_reads": 0}
        for name, value in expected.items():
            got = figures.get(prefix + name)
            check(got == value, "{}{}: {} (expected {})".format(prefix, name, got, value))
        check(figures.get("model.total.write_units") == 12,
              "model.total.write_units: {}".format(figures.get("model.total.write_units")))
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()

if failures:
    for f in failures:
        print("FAIL:", f)
    sys.exit(1)
print("latency_proxy_test: ok")
