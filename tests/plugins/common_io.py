"""What every test plugin shares: reading requests, writing answers (one line each, whole,
flushed at once, under a lock so threads never interleave), logging to stderr.

Standard library only. Imported by the plugins next to this file."""

import json
import os
import sys
import threading

_lock = threading.Lock()


def answer(obj):
    line = json.dumps(obj, separators=(",", ":")) + "\n"
    with _lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def log(name, message):
    sys.stderr.write("%s[%d]: %s\n" % (name, os.getpid(), message))
    sys.stderr.flush()


def hello(kind, schema=True):
    answer({"protocol": 1, "kind": kind, "settings_schema": schema})


def requests():
    """Every JSON request on stdin, until its end."""
    for line in sys.stdin:
        line = line.strip()
        if line:
            yield json.loads(line)


def append_line(path, text):
    """Appends one line to `path` in a single write (O_APPEND): lines never interleave."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (text + "\n").encode("utf-8"))
    finally:
        os.close(fd)
