#!/usr/bin/env python3
"""A check plugin that talks on stderr: a line when it starts (naming its first argument, a
version tag for reload tests, and its process id) and one per check. It answers every check
`up` with the tag in the detail.

`NOISY_PIDS`, if set, names a file to which each start appends the process id."""

import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_io import answer, append_line, hello, log, requests  # noqa: E402

TAG = sys.argv[1] if len(sys.argv) > 1 else "untagged"


def main():
    if os.environ.get("NOISY_PIDS"):
        append_line(os.environ["NOISY_PIDS"], str(os.getpid()))
    log("noisy", "started tag=%s marker=noisy-stderr-7f3a" % TAG)
    for request in requests():
        if request.get("op") == "hello":
            hello("check", {"type": "object"})
        elif request.get("op") == "check":
            log("noisy", "checking %s for request %s" % (request.get("host"), request.get("id")))
            answer({"id": request["id"], "status": "up", "detail": "noisy %s says up" % TAG,
                    "latency_ms": 1.5})


main()
