#!/usr/bin/env python3
"""A real SMTP server on loopback for the tests (aiosmtpd): every message received
is written, exactly as received, to DIR/<n>.eml. Usage: smtp_sink.py PORT DIR
PORT 0: the system picks a free port. Prints "ready PORT" once it accepts mail."""
import os
import signal
import sys
import threading
import time

from aiosmtpd.controller import Controller


class Keep:
    def __init__(self, directory):
        self.directory = directory
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            name = "%d-%s.eml" % (time.time_ns(), "_".join(envelope.rcpt_tos).replace("@", "_at_"))
            # Written under a name the tests do not read (not *.eml), then renamed.
            tmp = os.path.join(self.directory, "." + name + ".part")
            with open(tmp, "wb") as f:
                f.write(envelope.original_content or envelope.content)
            os.rename(tmp, os.path.join(self.directory, name))
        return "250 OK"


class AnyPortController(Controller):
    """aiosmtpd's Controller, which also accepts port 0: the port the system picked
    is read from the bound socket before the controller connects to itself."""

    def _create_server(self):
        async def create():
            server = await super(AnyPortController, self)._create_server()
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = AnyPortController(Keep(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready %d" % controller.port, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
