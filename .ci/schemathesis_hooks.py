"""Schemathesis hooks for Amity's API run (.ci/schemathesis.sh).

One extra check: every error response is an RFC 9457 problem document with the stable
fields the API promises (`type`, `title`, `status`, `detail`, `code`).
"""

import json

import schemathesis


@schemathesis.check
def errors_are_problem_json(ctx, response, case):
    """Fail when a 4xx/5xx answer is not application/problem+json with its promised fields."""
    if response.status_code < 400:
        return None
    content_type = ";".join(response.headers.get("content-type", [""])).split(";")[0].strip()
    if content_type != "application/problem+json":
        raise AssertionError(
            f"{response.status_code} answered with content type {content_type!r}, "
            "not application/problem+json"
        )
    try:
        body = json.loads(response.content)
    except ValueError as exc:
        raise AssertionError(f"problem document is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise AssertionError("problem document is not a JSON object")
    missing = [k for k in ("type", "title", "status", "detail", "code") if k not in body]
    if missing:
        raise AssertionError(f"problem document lacks {', '.join(missing)}")
    if body["status"] != response.status_code:
        raise AssertionError(
            f"problem status {body['status']} differs from the HTTP status {response.status_code}"
        )
    return None
