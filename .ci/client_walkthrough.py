"""The README's walkthrough and MOU signing, through a client generated from the served OpenAPI
document (openapi-python-client, package `amity_client`; run by .ci/openapi_client.sh).

Every request goes through the generated client's API functions: two cities, an office and an
office token for each, a sister-city partnership proposed by Houston and confirmed by Shanghai,
a second (friendship) partnership for the MOU, a signatory key per city registered with proof
of possession (signed with `ssh-keygen -Y sign`) and approved by the admin, the MOU created and
its text uploaded, the signing statement of each mayor fetched, checked against the uploaded
bytes, signed with `ssh-keygen -Y sign` and submitted; then the MOU must be `executed`, the
partnership `active` and the MOU's audit verdict `pass`. Each call's status code and parsed
type are checked; anything unexpected fails the run with the response body.

Environment: AMITY_URL (the server), AMITY_ADMIN_TOKEN (from `amity admin create-token --role
admin`), AMITY_CLIENT_DIR (the directory holding `amity_client`), AMITY_ORIGIN (the server's
origin, which the signing namespaces name; default amity.localhost), AMITY_WALKTHROUGH_DIR
(where keys and documents are written; a temporary directory when unset).

Prints "CLIENT WALKTHROUGH ok steps=N" and exits 0, or exits 1 naming the failed step.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from io import BytesIO
from pathlib import Path


class WalkthroughFailure(Exception):
    pass


def fail(message):
    raise WalkthroughFailure(message)


def env(name, default=None):
    value = os.environ.get(name, default)
    if not value:
        print(f"CLIENT WALKTHROUGH FAILURE: {name} is not set", file=sys.stderr)
        sys.exit(1)
    return value


BASE_URL = env("AMITY_URL")
ADMIN_TOKEN = env("AMITY_ADMIN_TOKEN")
ORIGIN = env("AMITY_ORIGIN", "amity.localhost")
sys.path.insert(0, env("AMITY_CLIENT_DIR"))

import httpx  # the generated client's own dependency

from amity_client import AuthenticatedClient, Client
from amity_client.api.cities import create_city, create_office
from amity_client.api.keys import approve, challenge, get_key, register
from amity_client.api.mous import create_mou, get_mou, upload
from amity_client.api.partnerships import (
    confirm,
    create_partnership,
    get_partnership,
)
from amity_client.api.signatures import audit_report, signing_statement, submit
from amity_client.api.tokens import create_token
from amity_client.models import (
    AcceptedView,
    AuditReport,
    ChallengeView,
    ConfirmBody,
    CountryCode,
    CreatedCityView,
    FileForm,
    IssuedTokenView,
    KeyChangeView,
    KeyStatus,
    KeyView,
    Kind,
    MouState,
    MouView,
    NewCityBody,
    NewKeyBody,
    NewMouBody,
    NewOfficeBody,
    NewPartnershipBody,
    NewTokenBody,
    OfficeView,
    PartnershipView,
    ProofBody,
    Role,
    SignatureBody,
    Status,
    StatusChangeView,
    UploadView,
    Verdict,
)
from amity_client.types import File

# The last answer the server gave, read in full: when the generated client raises while
# parsing it (a field missing from a model, say), the failure still shows the body.
last_response = {}


def remember(response):
    response.read()
    last_response["status"] = response.status_code
    last_response["request"] = f"{response.request.method} {response.request.url}"
    last_response["body"] = response.text


def client(token=None):
    args = {
        "base_url": BASE_URL,
        "timeout": httpx.Timeout(30.0),
        "raise_on_unexpected_status": True,
        "httpx_args": {"event_hooks": {"response": [remember]}},
    }
    if token is None:
        return Client(**args)
    return AuthenticatedClient(token=token, **args)


steps = 0


def call(what, operation, status, parsed_type, **kwargs):
    """One API call through the generated client: `operation.sync_detailed(**kwargs)` must
    answer `status` with a body parsed as `parsed_type` (None: the caller reads the bytes)."""
    global steps
    last_response.clear()
    try:
        response = operation.sync_detailed(**kwargs)
    except Exception as exc:  # the client's UnexpectedStatus, a model that did not parse, ...
        seen = (
            f"; the server answered {last_response['status']} to {last_response['request']}: "
            f"{last_response['body']}"
            if last_response
            else ""
        )
        fail(f"{what}: the generated client raised {type(exc).__name__}: {exc}{seen}")
    body = response.content.decode("utf-8", errors="replace")
    if response.status_code != status:
        fail(f"{what}: HTTP {int(response.status_code)}, expected {status}: {body}")
    if parsed_type is not None and not isinstance(response.parsed, parsed_type):
        fail(
            f"{what}: parsed as {type(response.parsed).__name__}, expected "
            f"{parsed_type.__name__}: {body}"
        )
    steps += 1
    parsed_name = parsed_type.__name__ if parsed_type else "bytes"
    print(f"step {steps}: {what}: {int(response.status_code)} {parsed_name}")
    return response


def expect(what, actual, expected):
    if actual != expected:
        fail(f"{what}: {actual!r}, expected {expected!r}")


def run(argv, cwd):
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        output = (done.stderr + done.stdout).strip()
        fail(f"{' '.join(argv)} exited {done.returncode}: {output}")
    return done.stdout


def ssh_sign(directory, key, namespace, name, data):
    """Signs `data` with `ssh-keygen -Y sign` as a signatory would: writes it to `name`, signs
    the file, and returns the armored signature (`name`.sig)."""
    path = directory / name
    path.write_bytes(data)
    run(["ssh-keygen", "-Y", "sign", "-f", str(key), "-n", namespace, name], directory)
    return (directory / f"{name}.sig").read_text()


def canonical(value):
    """The statement encoding the registry signs: compact JSON, sorted keys, ASCII."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=True).encode()


def walkthrough(work):
    admin = client(ADMIN_TOKEN)
    anyone = client()

    # Two cities (admin).
    cities = [
        NewCityBody(
            code="us-hou", name="Houston", country=CountryCode("US"), region="US-TX", lat=29.7604, lon=-95.3698
        ),
        NewCityBody(code="cn-sha", name="Shanghai", country=CountryCode("CN"), lat=31.2304, lon=121.4737),
    ]
    for body in cities:
        city = call(
            f"create city {body.code}", create_city, 201, CreatedCityView, client=admin, body=body
        ).parsed
        expect(f"city {body.code} code", city.code, body.code)
        expect(f"city {body.code} name", city.name, body.name)
        expect(f"city {body.code} warnings", city.warnings, [])

    # An office for each city (admin), and a token for each office (admin).
    office_tokens = {}
    for code in ("us-hou", "cn-sha"):
        office = call(
            f"create office of {code}",
            create_office,
            201,
            OfficeView,
            client=admin,
            body=NewOfficeBody(city=code, name="Office of International Affairs"),
        ).parsed
        expect(f"office of {code} city", office.city, code)
        token = call(
            f"create token for the office of {code}",
            create_token,
            201,
            IssuedTokenView,
            client=admin,
            body=NewTokenBody(role=Role.OFFICE, office=office.id),
        ).parsed
        expect(f"token of {code} role", token.role, Role.OFFICE)
        expect(f"token of {code} office", token.office, office.id)
        if not isinstance(token.token, str) or not token.token.startswith("amity_"):
            fail(f"token of {code}: not an Amity token: {token.token!r}")
        office_tokens[code] = token.token
    hou = client(office_tokens["us-hou"])
    sha = client(office_tokens["cn-sha"])
    offices = {"us-hou": hou, "cn-sha": sha}

    # Houston proposes; Shanghai confirms, which makes the partnership active.
    sister = call(
        "Houston proposes a sister-city partnership",
        create_partnership,
        201,
        PartnershipView,
        client=hou,
        body=NewPartnershipBody(
            cities=["us-hou", "cn-sha"], kind=Kind.SISTER, established="1979-12-08"
        ),
    ).parsed
    expect("proposed partnership status", sister.status, Status.PROPOSED)
    expect("proposed partnership kind", sister.kind, Kind.SISTER)
    confirmed = call(
        "Shanghai confirms the partnership",
        confirm,
        200,
        StatusChangeView,
        client=sha,
        id=sister.id,
        body=ConfirmBody(),
    ).parsed
    expect("confirmed partnership status", confirmed.status, Status.ACTIVE)
    read = call(
        "anyone reads the partnership",
        get_partnership,
        200,
        PartnershipView,
        client=anyone,
        id=sister.id,
    ).parsed
    expect("partnership status", read.status, Status.ACTIVE)

    # A second tie, proposed by Houston: executing its MOU makes it active.
    friendship = call(
        "Houston proposes a friendship partnership",
        create_partnership,
        201,
        PartnershipView,
        client=hou,
        body=NewPartnershipBody(cities=["us-hou", "cn-sha"], kind=Kind.FRIENDSHIP),
    ).parsed
    expect("friendship partnership status", friendship.status, Status.PROPOSED)

    # Each signatory makes a key; each office registers it with proof of possession (the key
    # signs the key-registration statement naming a single-use challenge); the admin approves.
    keys = {}
    for code, handle in (("us-hou", "hou_mayor"), ("cn-sha", "sha_mayor")):
        signer = f"mayor@{code}"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", signer, "-f", handle], work)
        public_line = (work / f"{handle}.pub").read_text().strip()
        key_type, key_base64 = public_line.split()[:2]
        fingerprint = run(
            ["ssh-keygen", "-l", "-E", "sha256", "-f", f"{handle}.pub"], work
        ).split()[1]

        offer = call(
            f"challenge for {code}", challenge, 200, ChallengeView, client=offices[code], code=code
        ).parsed
        expect("challenge registry", offer.registry, ORIGIN)
        expect("challenge namespace", offer.namespace, f"amity-key-v1@{offer.registry}")
        statement = canonical(
            {
                "action": "register",
                "challenge": offer.challenge,
                "city": code,
                "public_key": f"{key_type} {key_base64}",
                "registry": offer.registry,
                "role": "signatory",
                "signer": signer,
                "type": f"{offer.registry}/schemas/key-event/v1",
            }
        )
        proof = ssh_sign(work, handle, offer.namespace, f"{handle}-registration.json", statement)
        key = call(
            f"register {signer}'s key with proof of possession",
            register,
            201,
            KeyView,
            client=offices[code],
            code=code,
            body=NewKeyBody(
                signer=signer,
                role="signatory",
                public_key=public_line,
                proof=ProofBody(statement=base64.b64encode(statement).decode(), signature=proof),
            ),
        ).parsed
        expect(f"{signer}'s key status", key.status, KeyStatus.PENDING)
        expect(f"{signer}'s key fingerprint", key.fingerprint, fingerprint)
        approved = call(
            f"admin approves {signer}'s key", approve, 200, KeyChangeView, client=admin, id=key.id
        ).parsed
        expect(f"{signer}'s approved key status", approved.key.status, KeyStatus.ACTIVE)
        read = call(
            f"anyone reads {signer}'s key", get_key, 200, KeyView, client=anyone, id=key.id
        ).parsed
        expect(f"{signer}'s key status", read.status, KeyStatus.ACTIVE)
        keys[code] = (signer, handle, fingerprint)

    # Houston creates the MOU (one signatory of each city by default) and uploads its text.
    document = b"Memorandum of Understanding on Friendship between Houston and Shanghai\n"
    document_sha256 = hashlib.sha256(document).hexdigest()
    mou = call(
        "Houston creates the MOU",
        create_mou,
        201,
        MouView,
        client=hou,
        body=NewMouBody(partnership=friendship.id, title="Friendship MOU"),
    ).parsed
    expect("new MOU state", mou.state, MouState.DRAFT)
    expect("new MOU partnership", mou.partnership, friendship.id)
    # text/plain: the generated client sends a raw `File` body as application/octet-stream
    # whatever its mime_type (openapi-python-client supports no other raw media type), so the
    # text goes as the multipart form's one file part, whose media type the server keeps.
    uploaded = call(
        "Houston uploads the MOU text (text/plain, ?filename=mou.txt)",
        upload,
        201,
        UploadView,
        client=hou,
        id=mou.id,
        filename="mou.txt",
        body=FileForm(
            file=File(payload=BytesIO(document), file_name="mou.txt", mime_type="text/plain")
        ),
    ).parsed
    expect("uploaded version", uploaded.version, 1)
    expect("uploaded sha256", uploaded.sha256, document_sha256)
    expect("uploaded size", uploaded.size, len(document))
    expect("uploaded media type", uploaded.media_type, "text/plain")
    expect("uploaded file name", uploaded.filename, "mou.txt")
    expect("MOU state after the upload", uploaded.state, MouState.OPEN)

    # Each mayor: fetch the exact statement, compare its doc_sha256 with the document they
    # reviewed, sign it with ssh-keygen, and the office submits statement and signature.
    for n, code in enumerate(("us-hou", "cn-sha"), start=1):
        signer, handle, fingerprint = keys[code]
        # The statement is signed as the exact bytes served, so the client hands them over
        # unparsed (the document declares no schema for them).
        offered = call(
            f"{signer} fetches the signing statement",
            signing_statement,
            200,
            None,
            client=offices[code],
            id=mou.id,
            signer=signer,
            role="signatory",
        )
        content_type = offered.headers.get("content-type", "")
        if not content_type.startswith("application/json"):
            fail(f"signing statement content type {content_type!r}, expected application/json")
        raw = offered.content
        try:
            statement = json.loads(raw)
        except ValueError as exc:
            fail(f"signing statement is not JSON ({exc}): {raw!r}")
        if not isinstance(statement, dict):
            fail(f"signing statement is not a JSON object: {raw!r}")
        expect("signing statement encoding (canonical JSON)", raw, canonical(statement))
        expect(
            "statement doc_sha256 (the uploaded bytes)",
            statement.get("doc_sha256"),
            document_sha256,
        )
        expect("statement mou_id", statement.get("mou_id"), mou.id)
        expect("statement mou_version", statement.get("mou_version"), 1)
        expect("statement signer", statement.get("signer"), signer)
        expect("statement signer_city", statement.get("signer_city"), code)
        expect("statement signer_key", statement.get("signer_key"), fingerprint)
        expect("statement role", statement.get("role"), "signatory")
        expect("statement seq", statement.get("seq"), n)
        expect("statement registry", statement.get("registry"), ORIGIN)
        namespace = f"amity-mou-v1@{statement['registry']}"
        if ORIGIN == "amity.localhost":
            expect("MOU signing namespace (README)", namespace, "amity-mou-v1@amity.localhost")
        signature = ssh_sign(work, handle, namespace, f"statement-{code}.json", raw)
        accepted = call(
            f"{signer}'s signature submitted",
            submit,
            201,
            AcceptedView,
            client=offices[code],
            id=mou.id,
            body=SignatureBody(statement=base64.b64encode(raw).decode(), signature=signature),
        ).parsed
        expect(f"{signer}'s signature seq", accepted.seq, n)
        expect(
            f"{signer}'s statement_sha256",
            accepted.statement_sha256,
            hashlib.sha256(raw).hexdigest(),
        )
        expect(
            f"MOU state after {signer}'s signature",
            accepted.state,
            MouState.OPEN if n == 1 else MouState.EXECUTED,
        )
        if n == 2 and not isinstance(accepted.partnership_activated, int):
            fail(f"the executing signature activated no partnership: {accepted.to_dict()}")

    # Executed; the partnership is active; anyone can audit the MOU.
    read = call("anyone reads the MOU", get_mou, 200, MouView, client=anyone, id=mou.id).parsed
    expect("MOU state", read.state, MouState.EXECUTED)
    expect("MOU current version", read.current_version, 1)
    read = call(
        "anyone reads the MOU's partnership",
        get_partnership,
        200,
        PartnershipView,
        client=anyone,
        id=friendship.id,
    ).parsed
    expect("MOU partnership status", read.status, Status.ACTIVE)
    report = call(
        "anyone audits the MOU", audit_report, 200, AuditReport, client=anyone, id=mou.id
    ).parsed
    failed = [c.to_dict() for c in report.checks if c.result != Verdict.PASS]
    if report.verdict != Verdict.PASS or failed or not report.checks:
        fail(f"audit verdict {report.verdict!r}, failed checks {failed}: {report.to_dict()}")
    expect("audit state", report.state, MouState.EXECUTED)
    print(f"audit: {len(report.checks)} checks, verdict {report.verdict.value}")


def main():
    given = os.environ.get("AMITY_WALKTHROUGH_DIR")
    try:
        if given:
            walkthrough(Path(given))
        else:
            with tempfile.TemporaryDirectory(prefix="amity-walkthrough-") as work:
                walkthrough(Path(work))
    except WalkthroughFailure as exc:
        print(f"CLIENT WALKTHROUGH FAILURE after {steps} steps: {exc}", file=sys.stderr)
        return 1
    print(f"CLIENT WALKTHROUGH ok steps={steps}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
