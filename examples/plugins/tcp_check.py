#!/usr/bin/env python3
"""tcp_check: a flowstate check plugin, in plain Python 3 (standard library only).

It adds a check type that opens a TCP connection to ``settings.address`` and, optionally,
sends a few bytes and waits for an answer matching a regular expression. It is both a useful
plugin and the reference for writing your own: everything a plugin must do is here, in one
file, with nothing to install.

Configuration (SPEC §11)::

    plugins:
      tcpcheck: { command: ["python3", "/usr/lib/flowstate/plugins/tcp_check.py"] }
    hosts:
      - label: cache
        type: tcpcheck
        interval: 10s
        timeout: 2s
        settings:
          address: "127.0.0.1:6379"   # required: host:port ([v6]:port for IPv6)
          send: "PING\\r\\n"            # optional: written once connected
          expect: "^\\+PONG"           # optional: a regular expression the answer must match

The protocol: JSON objects, one per line. flowstate writes requests to the plugin's stdin and
reads answers from its stdout; stderr is free text that flowstate logs with ``plugin=<name>``.

- ``{"op":"hello","protocol":1}`` is answered with the protocol version, the kind of plugin
  (``check``) and a JSON Schema for ``settings``; ``flowstate check`` validates every host's
  settings against it, so a typo is a config error and not a failing check.
- ``{"op":"check","id":7,"host":"cache","settings":{...},"timeout_ms":2000}`` is answered with
  ``{"id":7,"status":"up"|"degraded"|"down","detail":"...","latency_ms":1.2}``. Several
  requests may be in flight at once: each runs on a thread of its own, and answers go out in
  whatever order they finish, each one line written under a lock and flushed at once.
- End of input (flowstate stopping or restarting the plugin) ends the plugin.

Try it by hand::

    printf '%s\\n' '{"op":"hello","protocol":1}' \\
        '{"op":"check","id":1,"host":"x","settings":{"address":"127.0.0.1:22"},"timeout_ms":1000}' \\
        | python3 tcp_check.py
"""

import json
import re
import socket
import sys
import threading
import time

PROTOCOL = 1

# `host:port`, where host is a name, an IPv4 address or a bracketed IPv6 address.
ADDRESS_PATTERN = r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$"

SETTINGS_SCHEMA = {
    "type": "object",
    "properties": {
        "address": {
            "type": "string",
            "pattern": ADDRESS_PATTERN,
            "description": "host:port to connect to, e.g. 127.0.0.1:6379 or [::1]:443",
        },
        "send": {
            "type": "string",
            "description": "bytes (UTF-8) to write once connected, e.g. \"PING\\r\\n\"",
        },
        "expect": {
            "type": "string",
            "minLength": 1,
            "description": "a regular expression (Python syntax) the answer must match",
        },
    },
    "required": ["address"],
    "additionalProperties": False,
}

# How much of the request's timeout the check itself may use: the rest is left for the answer
# to reach flowstate before it gives up on the request.
TIMEOUT_SHARE = 0.9

# How much of a mismatching answer is quoted in the detail.
QUOTE = 100

_output_lock = threading.Lock()


def log(message):
    """One line of free text on stderr: flowstate logs it with the plugin's name."""
    sys.stderr.write("tcp_check: %s\n" % message)
    sys.stderr.flush()


def answer(obj):
    """Writes one answer as one line, whole, and flushes it at once."""
    line = json.dumps(obj, separators=(",", ":")) + "\n"
    with _output_lock:
        sys.stdout.write(line)
        sys.stdout.flush()


def split_address(address):
    """`host:port` or `[v6]:port` -> (host, port)."""
    host, _, port = address.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    port = int(port)
    if not host or not 0 < port < 65536:
        raise ValueError("%r is not host:port" % address)
    return host, port


def milliseconds(since):
    return round((time.monotonic() - since) * 1000.0, 3)


def check(settings, timeout_s):
    """Runs one check: returns (status, detail, latency_ms)."""
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        host, port = split_address(settings["address"])
    except (KeyError, TypeError, ValueError) as error:
        return "down", "bad address: %s" % error, 0.0
    expect = settings.get("expect")
    try:
        pattern = re.compile(expect.encode("utf-8")) if expect else None
    except re.error as error:
        return "down", "bad expect %r: %s" % (expect, error), 0.0
    try:
        connection = socket.create_connection((host, port), timeout=timeout_s)
    except socket.timeout:
        return "down", "connect timed out after %d ms" % (timeout_s * 1000), milliseconds(started)
    except ConnectionRefusedError:
        return "down", "connection refused", milliseconds(started)
    except OSError as error:
        return "down", "connect failed: %s" % (error.strerror or error), milliseconds(started)
    with connection:
        connected = milliseconds(started)
        detail = "connected in %.1f ms" % connected
        received = b""
        try:
            send = settings.get("send")
            if send:
                connection.settimeout(max(deadline - time.monotonic(), 0.001))
                connection.sendall(send.encode("utf-8"))
            if pattern is None:
                return "up", detail, connected
            while not pattern.search(received):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise socket.timeout()
                connection.settimeout(remaining)
                chunk = connection.recv(4096)
                if not chunk:
                    return (
                        "down",
                        "expect %r not matched before the peer closed; got %r"
                        % (expect, received[:QUOTE].decode("utf-8", "replace")),
                        milliseconds(started),
                    )
                received += chunk
            return "up", detail + ", expect matched", milliseconds(started)
        except socket.timeout:
            return (
                "down",
                "expect %r not matched within %d ms; got %r"
                % (expect, timeout_s * 1000, received[:QUOTE].decode("utf-8", "replace"))
                if pattern is not None
                else "send timed out",
                milliseconds(started),
            )
        except OSError as error:
            return "down", "%s after connecting" % (error.strerror or error), milliseconds(started)


def run_check(request):
    """A thread per request: answers whatever happens, so no request is left hanging."""
    request_id = request.get("id")
    try:
        timeout_ms = float(request.get("timeout_ms") or 10000)
        status, detail, latency = check(request.get("settings") or {}, timeout_ms * TIMEOUT_SHARE / 1000.0)
    except Exception as error:  # a bug here must not cost flowstate its answer
        log("check of %r failed: %r" % (request.get("host"), error))
        status, detail, latency = "down", "plugin error: %s" % error, 0.0
    answer({"id": request_id, "status": status, "detail": detail, "latency_ms": latency})


def main():
    log("started (protocol %d)" % PROTOCOL)
    in_flight = []
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError:
            log("ignored a line that is not JSON: %r" % line[:200])
            continue
        op = request.get("op")
        if op == "hello":
            if request.get("protocol") != PROTOCOL:
                log("flowstate speaks protocol %r, this plugin %d" % (request.get("protocol"), PROTOCOL))
            answer({"protocol": PROTOCOL, "kind": "check", "settings_schema": SETTINGS_SCHEMA})
        elif op == "check":
            thread = threading.Thread(target=run_check, args=(request,), daemon=True)
            thread.start()
            in_flight = [t for t in in_flight if t.is_alive()] + [thread]
        else:
            log("ignored op %r: this is a check plugin" % op)
            if "id" in request:
                answer({"id": request["id"], "ok": False, "retry": False,
                        "detail": "tcp_check is a check plugin, not a %r one" % op})
    # End of input: answer what is still in flight (each check ends by its own timeout), so a
    # request piped in by hand gets its answer too.
    for thread in in_flight:
        thread.join()
    log("end of input, exiting")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
