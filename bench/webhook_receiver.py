"""A webhook receiver for bench/outbox.sh: answers every POST with 204 and appends one line
per request to the file named on the command line: arrival time (Unix seconds), the
`webhook-id` header, and the message's own `timestamp` (when the registry logged the event).
Standard library only; the measurement does not check signatures (the tests do that)."""

import json
import sys
import threading
import time
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
OUT = open(sys.argv[2], "a", buffering=1, encoding="utf-8")


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        arrived = time.time()
        logged = datetime.fromisoformat(json.loads(body)["timestamp"]).timestamp()
        with LOCK:
            OUT.write(f"{arrived:.6f}\t{self.headers.get('webhook-id')}\t{logged:.6f}\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    # The registry delivers several messages at once; the default listen backlog of 5 would
    # drop connections and make the measurement wait for TCP's one-second retransmission.
    request_queue_size = 1024
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
