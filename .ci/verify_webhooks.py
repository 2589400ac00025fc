"""Verifies webhook deliveries with the Standard Webhooks reference library (PyPI
`standardwebhooks`), an implementation this project did not write.

Usage: verify_webhooks.py DELIVERIES.json
DELIVERIES.json is a list of {"secret": "whsec_...", "headers": {...}, "body": "..."} as the
test receiver (tests/api/webhooks.rs) recorded them. Exits 0 when every delivery verifies, and
prints each webhook-id it checked; exits 1 naming the first that does not.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        deliveries = json.load(f)
    if not deliveries:
        print("no deliveries to verify", file=sys.stderr)
        return 1
    for d in deliveries:
        headers = {k.lower(): v for k, v in d["headers"].items()}
        try:
            Webhook(d["secret"]).verify(d["body"].encode("utf-8"), headers)
        except Exception as exc:  # the library raises its own WebhookVerificationError
            print(f"{headers.get('webhook-id')}: {exc}", file=sys.stderr)
            return 1
        print(f"verified {headers['webhook-id']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
