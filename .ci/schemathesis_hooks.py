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


@schemathesis.check
def every_rule_is_stated(ctx, response, case):
    """Fail when data the document allows is refused for a rule the document does not state.

    This is schemathesis's `positive_data_acceptance` (which the run excludes) made exact for
    this API: a refusal (400 or 422) of generated data that the schema allows passes only when
    its `code` is one of the operation's `x-amity-rules`, the rules no JSON Schema can state
    (one field against another, a date against today, a signature against its key). Any other
    refusal means a rule is missing from the document.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        code = json.loads(response.content).get("code")
    except (ValueError, AttributeError):
        code = None
    rules = case.operation.definition.raw.get("x-amity-rules", [])
    stated = {c for r in rules for c in r.get("codes", [])}
    if code in stated:
        return None
    raise AssertionError(
        f"data the schema allows was refused with {response.status_code} `{code}`, a rule the "
        f"document does not state (stated for this operation: {sorted(stated) or 'none'})"
    )
