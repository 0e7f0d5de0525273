#!/usr/bin/env python3
"""Mutation runs: the test of the test suite.

Each mutant (tests/mutants.json) is one small source change that breaks one
promise of the public headers or one invariant of docs/protocol.md. For each
mutant in turn this script applies it, builds the test programs it names,
runs them, and records which test killed it (failed), then restores the
source. A mutant that no test kills is a survivor: the suite would not notice
that promise broken.

  python3 scripts/mutate.py                 every mutant, table on stdout
  python3 scripts/mutate.py --ci            the mutants marked "ci": fails on a survivor
  python3 scripts/mutate.py --only ID,ID    some mutants
  python3 scripts/mutate.py --markdown F    also writes the table to F

Builds in build-mutants/ (RelWithDebInfo), so build/ stays untouched, unless
--build-dir names an existing build (CI reuses build/: only the mutated
files recompile; the last step rebuilds it from the restored sources).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build-mutants")  # --build-dir overrides
# A mutant's tests run at most this long: a hang counts as killed (a test
# that never returns fails in CI too), but is reported as a time-out.
RUN_TIMEOUT_S = 600


def load_mutants():
    with open(os.path.join(ROOT, "tests", "mutants.json")) as f:
        return json.load(f)


def configure():
    if not os.path.exists(os.path.join(BUILD, "CMakeCache.txt")):
        subprocess.run(["cmake", "-S", ROOT, "-B", BUILD, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                        "-DPREVAYLER_BUILD_BENCH=OFF", "-DPREVAYLER_BUILD_EXAMPLES=ON"],
                       check=True, stdout=subprocess.DEVNULL)


def build(targets):
    r = subprocess.run(["cmake", "--build", BUILD, "-j", str(os.cpu_count() or 2), "--target"]
                       + targets, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode == 0, r.stdout


def failed_tests(output):
    names = re.findall(r"^\[  FAILED  \] (\S+)", output, re.M)
    return sorted(set(n for n in names if "." in n))


def run_commands(commands):
    """Returns (killed, killer description)."""
    for command in commands:
        argv = [os.path.join(BUILD, "tests", command[0])] + command[1:]
        try:
            r = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=RUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return True, command[0] + ": timed out after %d s" % RUN_TIMEOUT_S
        if r.returncode != 0:
            names = failed_tests(r.stdout)
            seeds = [int(x) for x in re.findall(r"^\[model\] seed (\d+) FAILED", r.stdout, re.M)]
            if seeds:
                # The model test: how soon it notices is part of the answer.
                return True, "%s (first failing seed %d, %d of the seeds run)" % (
                    ", ".join(names[:1]) or command[0], min(seeds), len(seeds))
            if names:
                return True, ", ".join(names[:3]) + (" (+%d)" % (len(names) - 3)
                                                     if len(names) > 3 else "")
            return True, "%s exited with %d" % (command[0], r.returncode)
    return False, ""


def apply(mutant):
    path = os.path.join(ROOT, mutant["file"])
    with open(path) as f:
        original = f.read()
    count = original.count(mutant["find"])
    if count != 1:
        raise SystemExit("mutant %s: the text to replace occurs %d times in %s (must be once); "
                         "update tests/mutants.json" % (mutant["id"], count, mutant["file"]))
    with open(path, "w") as f:
        f.write(original.replace(mutant["find"], mutant["replace"]))
    return path, original


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ci", action="store_true")
    parser.add_argument("--only", default="")
    parser.add_argument("--markdown", default="")
    parser.add_argument("--build-dir", default="",
                        help="an existing build to mutate in place (CI reuses build/)")
    args = parser.parse_args()
    global BUILD
    if args.build_dir:
        BUILD = os.path.abspath(args.build_dir)
    mutants = load_mutants()
    if args.ci:
        mutants = [m for m in mutants if m.get("ci")]
    if args.only:
        wanted = set(args.only.split(","))
        mutants = [m for m in mutants if m["id"] in wanted]
    configure()
    targets = sorted({c[0] for m in mutants for c in m["run"]})
    ok, log = build(targets)
    if not ok:
        sys.stdout.write(log[-5000:])
        raise SystemExit("the unmutated tree does not build")
    rows = []
    started = time.time()
    for mutant in mutants:
        t0 = time.time()
        path, original = apply(mutant)
        try:
            ok, log = build(sorted({c[0] for c in mutant["run"]}))
            if not ok:
                killed, killer = True, "does not compile (fix the mutant)"
            else:
                killed, killer = run_commands(mutant["run"])
        finally:
            with open(path, "w") as f:
                f.write(original)
        rows.append((mutant, killed, killer, time.time() - t0))
        print("%-40s %-9s %5.0f s  %s" % (mutant["id"], "killed" if killed else "SURVIVED",
                                          time.time() - t0, killer), flush=True)
    build(targets)  # leave the build matching the tree
    survivors = [m["id"] for m, killed, _, _ in rows if not killed]
    table = ["| mutant | promise broken | file | killed by |", "|---|---|---|---|"]
    for mutant, killed, killer, _ in rows:
        table.append("| `%s` | %s | `%s` | %s |" % (mutant["id"], mutant["promise"], mutant["file"],
                                                    killer if killed else "**survived**"))
    summary = "%d mutants, %d killed, %d survived, %.0f s" % (
        len(rows), len(rows) - len(survivors), len(survivors), time.time() - started)
    print("\n".join(table))
    print(summary)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(table) + "\n\n" + summary + "\n")
    if survivors:
        raise SystemExit("surviving mutants: " + ", ".join(survivors))


if __name__ == "__main__":
    main()
