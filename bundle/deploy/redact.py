"""What the stack exports must not carry personal data in clear: the alarm email is a secret output.

`pulumi stack output` prints a secret as "[secret]" (shown only with --show-secrets), and Pulumi encrypts it
in the state. The exported `params` carry the email as "" so that the public outputs (and a guide rendered
from them) never show it; the `alarm_email` output says it is set.
"""
from __future__ import annotations

import copy

import pulumi


def public_params(document: dict) -> dict:
    """The params document as exported: the alarm email removed (it is the secret `alarm_email` output)."""
    public = copy.deepcopy(document)
    if (public.get("alarms") or {}).get("email"):
        public["alarms"]["email"] = ""
    return public


def alarm_email_output(email: str) -> pulumi.Output[str] | None:
    return pulumi.Output.secret(email) if email else None
