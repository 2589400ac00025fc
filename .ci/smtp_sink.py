"""An SMTP server for the e-mail tests (tests/api/mail.rs), on aiosmtpd (PyPI), a server this
project did not write: it accepts every message and writes each, as received, to DIR/<n>.eml
with the envelope's recipients on the first line.

Usage: smtp_sink.py PORT DIR     (runs until killed)
"""

import os
import sys
import time

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        self.count += 1
        path = os.path.join(self.directory, f"{self.count:04}.eml")
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("RCPT " + ",".join(envelope.rcpt_tos) + "\n").encode("utf-8"))
            f.write(envelope.content)
        os.rename(tmp, path)
        return "250 Message accepted for delivery"


def main() -> None:
    port, directory = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
