"""A real SMTP server for the alert tests (aiosmtpd): STARTTLS with the test CA's
certificate, required before AUTH and MAIL; one user; every accepted message saved as
NNNN.eml in a folder, with its envelope (sender, recipients, TLS, login) in NNNN.json.
The first --fail-first messages are refused with 451 (try again later).

Usage: smtp_sink.py PORT CERT KEY FOLDER USER PASSWORD [--fail-first N]
Prints "ready" once it accepts connections; stops on SIGTERM or when stdin closes.
"""

import argparse
import json
import os
import signal
import ssl
import sys
import threading
import logging
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, folder, fail_first):
        self.folder = folder
        self.fail_first = fail_first
        self.seen = 0
        self.saved = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.seen += 1
            if self.seen <= self.fail_first:
                return "451 4.3.0 try again later (test)"
            self.saved += 1
            base = os.path.join(self.folder, f"{self.saved:04d}")
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump(
                {
                    "mail_from": envelope.mail_from,
                    "rcpt_tos": envelope.rcpt_tos,
                    "tls": session.ssl is not None,
                    "received_at": time.time(),
                    "login": session.auth_data.login.decode()
                    if isinstance(session.auth_data, LoginPassword)
                    else None,
                },
                f,
            )
        # The .eml appears whole: written aside, then renamed.
        with open(base + ".part", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.rename(base + ".part", base + ".eml")
        return "250 2.0.0 OK saved"


def main():
    # aiosmtpd logs a warning about its own use of a deprecated attribute on every login.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("folder")
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("--fail-first", type=int, default=0)
    args = parser.parse_args()

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == args.user.encode()
            and auth_data.password == args.password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    controller = Controller(
        Sink(args.folder, args.fail_first),
        hostname="127.0.0.1",
        port=args.port,
        server_hostname="localhost",
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=True,
    )
    controller.start()
    print("ready", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # The test process holds stdin: when it dies, the server stops too.
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    controller.stop()


if __name__ == "__main__":
    main()
