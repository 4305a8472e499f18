#!/usr/bin/env python3
"""A check plugin that hangs: it answers `up` to its first `HANG_AFTER` check requests (3 when
unset) and then nothing at all, while still reading its input; so does any request whose
settings say `"hang": true`. Each life counts from zero, so after a restart it answers again.

At start it also starts a child (`sleep 3600`) in its own process group, to show that a
plugin is killed with everything it started. `HANG_PIDS`, if set, names a file to which each
start appends the plugin's process id, then the child's, one per line."""

import os
import subprocess
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_io import answer, append_line, hello, log, requests  # noqa: E402

AFTER = int(os.environ.get("HANG_AFTER", "3"))


def main():
    child = subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL)
    if os.environ.get("HANG_PIDS"):
        append_line(os.environ["HANG_PIDS"], "%d\n%d" % (os.getpid(), child.pid))
    log("hang", "started; answering %d requests, then none (child %d)" % (AFTER, child.pid))
    seen = 0
    for request in requests():
        if request.get("op") == "hello":
            hello("check", {"type": "object", "properties": {"hang": {"type": "boolean"}}})
        elif request.get("op") == "check":
            seen += 1
            if seen > AFTER or (request.get("settings") or {}).get("hang"):
                if seen == AFTER + 1:
                    log("hang", "hanging from request %d on" % seen)
                continue
            answer({"id": request["id"], "status": "up", "detail": "answered request %d" % seen})


main()
