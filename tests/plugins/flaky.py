#!/usr/bin/env python3
"""A check plugin that crashes: it answers `up` to every check request but exits (status 3,
without answering) on every 10th one it receives (`FLAKY_EVERY` in its environment changes
the 10; 0 makes it die before its hello, every time). Each life counts from zero, so it
crashes again and again after each restart.

Each start appends the process id to the file `FLAKY_PIDS` names, if set."""

import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_io import answer, append_line, hello, log, requests  # noqa: E402

# `FLAKY_EVERY=0` makes the plugin fail at once, before its hello (a division by zero, with
# its traceback on stderr): a plugin that can never start.
EVERY = int(os.environ.get("FLAKY_EVERY", "10"))


def main():
    if os.environ.get("FLAKY_PIDS"):
        append_line(os.environ["FLAKY_PIDS"], str(os.getpid()))
    log("flaky", "started, crashing on every %dth request" % EVERY)
    1 % EVERY  # noqa: B018 (raises ZeroDivisionError for FLAKY_EVERY=0)
    seen = 0
    for request in requests():
        if request.get("op") == "hello":
            hello("check", {"type": "object"})
        elif request.get("op") == "check":
            seen += 1
            if seen % EVERY == 0:
                log("flaky", "crashing on request %d (id %s)" % (seen, request.get("id")))
                os._exit(3)
            answer({"id": request["id"], "status": "up", "detail": "flaky answered request %d" % seen})


main()
