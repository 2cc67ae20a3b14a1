"""The quota rule every backend applies inside its write transaction (RFC 9208).

An account has one quota root; its usage is the sum of the sizes (RFC822.SIZE) and the
number of the messages in all its mailboxes. An addition (APPEND, COPY, delivery) is
refused as a whole when it would take the usage past a limit (section 4.3.1: OVERQUOTA
"when the addition of the message(s) puts the target mailbox over any one of its quota
limits"). Removals are never refused, and neither is an operation that adds nothing
(MOVE within an account), so an account over a lowered limit can always clean up.
"""

from __future__ import annotations

from pyimapd.storage.interface import OverQuota, QuotaLimits

KIB = 1024


def check_addition(
    limits: QuotaLimits, used_octets: int, used_messages: int, octets: int, messages: int
) -> None:
    """Raises :class:`OverQuota` when adding ``messages`` messages of ``octets`` in all
    would exceed a limit."""
    if messages <= 0:
        return
    if limits.storage_kib is not None and used_octets + octets > limits.storage_kib * KIB:
        raise OverQuota("Quota exceeded: not enough storage left for the message(s)")
    if limits.messages is not None and used_messages + messages > limits.messages:
        raise OverQuota("Quota exceeded: too many messages")

