#!/usr/bin/env python3
"""A notifier plugin that records what it is sent: every notify request becomes one JSON line
appended to `settings.path`: `{"attempt": N, "answer": "ok"|"retry", "id": <request id>,
"event": ..., "group": ..., "settings": ...}`, where N counts the attempts at that event (by
the event's `id`, or the group's first event id). It answers `{"ok": true}`, except that
the first `settings.fail_first` attempts at each event are answered
`{"ok": false, "retry": true}`."""

import json
import os
import sys

sys.dont_write_bytecode = True  # leave no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common_io import answer, append_line, hello, log, requests  # noqa: E402

SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "minLength": 1},
        "fail_first": {"type": "integer", "minimum": 0},
    },
    "required": ["path"],
    "additionalProperties": False,
}

attempts = {}


def key_of(request):
    event = request.get("event")
    if event is None:
        events = (request.get("group") or {}).get("events") or [{}]
        event = events[0]
    return (request.get("settings") or {}).get("path"), event.get("id")


def notify(request):
    settings = request.get("settings") or {}
    key = key_of(request)
    attempts[key] = attempts.get(key, 0) + 1
    attempt = attempts[key]
    retry = attempt <= int(settings.get("fail_first", 0))
    record = {
        "attempt": attempt,
        "answer": "retry" if retry else "ok",
        "id": request.get("id"),
        "event": request.get("event"),
        "group": request.get("group"),
        "settings": settings,
    }
    append_line(settings["path"], json.dumps(record, separators=(",", ":")))
    if retry:
        log("record", "asking to retry event %s (attempt %d)" % (key[1], attempt))
        answer({"id": request["id"], "ok": False, "retry": True, "detail": "try again later"})
    else:
        answer({"id": request["id"], "ok": True, "detail": "recorded"})


def main():
    log("record", "started")
    for request in requests():
        if request.get("op") == "hello":
            hello("notifier", SCHEMA)
        elif request.get("op") == "notify":
            try:
                notify(request)
            except Exception as error:
                log("record", "cannot record: %r" % error)
                answer({"id": request.get("id"), "ok": False, "retry": False, "detail": repr(error)})


main()
