#!/usr/bin/python3
"""A real SMTP server on loopback for tests/email.rs, built on Debian's python3-aiosmtpd.

Listens on 127.0.0.1 on a port the kernel picks (bound here, before the server starts, so no
other process can take it in between) and writes that port to --port-file once it accepts
connections. Each message received is stored in --dir as NNN.json: the envelope, whether the
session was encrypted, who logged in, and the parsed message (From, To, Subject, each part's
content type and text). Files are written under a temporary name and renamed, so a reader
never sees half of one.

Options: --starttls CERT KEY offers STARTTLS; --require-starttls refuses mail before it;
--smtps CERT KEY speaks TLS from the first byte; --user NAME --password PASS requires AUTH
with these credentials (AUTH is then offered without TLS too, as a loopback test needs).
Runs until killed.
"""

import argparse
import email
import email.policy
import itertools
import json
import os
import signal
import socket
import ssl
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class LoopbackController(Controller):
    """A Controller serving on a socket already bound (aiosmtpd cannot report port 0)."""

    def __init__(self, handler, sock, **kwargs):
        super().__init__(handler, hostname="127.0.0.1", port=sock.getsockname()[1], **kwargs)
        self.sock = sock

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self.sock, ssl=self.ssl_context)


class Store:
    """Saves every message as JSON in a directory."""

    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        parts = []
        for part in message.walk():
            if part.is_multipart():
                continue
            parts.append({"content_type": part.get_content_type(), "text": part.get_content()})
        login = session.auth_data.decode() if isinstance(session.auth_data, bytes) else session.auth_data
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            # STARTTLS sets session.ssl; TLS from the first byte shows only on the transport.
            "tls": session.ssl is not None
            or server.transport.get_extra_info("ssl_object") is not None,
            "login": login,
            "from": str(message["From"]),
            "to": str(message["To"]),
            "subject": str(message["Subject"]),
            "message_id": str(message["Message-ID"]),
            "content_type": message.get_content_type(),
            "parts": parts,
        }
        with self.lock:
            n = next(self.counter)
        path = os.path.join(self.directory, "%03d.json" % n)
        with open(path + ".tmp", "w") as out:
            json.dump(record, out)
        os.rename(path + ".tmp", path)
        return "250 OK"


def tls_context(cert, key):
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--require-starttls", action="store_true")
    parser.add_argument("--smtps", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    kwargs = {}
    if args.starttls:
        kwargs["tls_context"] = tls_context(*args.starttls)
        kwargs["require_starttls"] = args.require_starttls
    if args.smtps:
        kwargs["ssl_context"] = tls_context(*args.smtps)
    if args.user:
        expected = (args.user.encode(), (args.password or "").encode())

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == expected
            # handled=False: aiosmtpd answers 535 itself (its default says a failure was answered).
            return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = False

    # Blocked before any thread starts, so every thread inherits it and only sigwait sees them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    controller = LoopbackController(Store(args.dir), sock, **kwargs)
    controller.start()
    with open(args.port_file + ".tmp", "w") as out:
        out.write(str(sock.getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
