"""Helpers for the billing tests: a server with billing on (the mock
provider and a webhook secret file), and provider events the tests sign
themselves with that secret, the way a provider shares its signing
secret with the service it calls.
"""
import hashlib
import hmac
import json
import os
import time
import uuid

import requests

from client import TIMEOUT

SECRET = "whsec_" + "s3cr3t" * 8


def billing_settings(tmp):
    """[billing] settings turning the mock provider on, with a secret file
    in tmp that only its owner may read."""
    path = tmp / "billing.secret"
    path.write_text(SECRET + "\n")
    os.chmod(path, 0o600)
    return {"billing": {"mock_provider": "on", "webhook_secret_file": str(path)}}


def now_ms():
    return int(time.time() * 1000)


def sign(body, t=None, secret=SECRET):
    """The Coffer-Signature header value for body (bytes) at time t."""
    t = int(time.time()) if t is None else t
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def event(kind, user_id, created_ms, **data):
    """A provider event of kind for user_id, created at created_ms."""
    data["user_id"] = user_id
    return {"id": "evt_" + uuid.uuid4().hex, "type": kind, "created": created_ms,
            "data": data}


def send(inst, ev, t=None, secret=SECRET, signature=None):
    """POST ev to the billing webhook, signed unless signature is given."""
    body = json.dumps(ev).encode()
    sig = signature if signature is not None else sign(body, t, secret)
    return requests.post(inst.url + "/billing/webhook", data=body,
                         headers={"Content-Type": "application/json",
                                  "Coffer-Signature": sig}, timeout=TIMEOUT)


def premium(inst, account, at=None):
    """Make account premium through a subscription.renewed event."""
    r = send(inst, event("subscription.renewed", account.id, at or now_ms()))
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text


def cancel(inst, account, at=None):
    """Downgrade account through a subscription.canceled event."""
    r = send(inst, event("subscription.canceled", account.id, at or now_ms()))
    assert r.status_code == 200 and r.json()["outcome"] == "applied", r.text
