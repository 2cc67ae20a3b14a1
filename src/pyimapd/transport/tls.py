"""TLS for the listeners: one server context, re-read on SIGHUP.

How this works: :class:`TlsContexts` builds an :class:`ssl.SSLContext` from the configured
certificate chain and key. Listeners and STARTTLS always use the *front* context, whose
SNI callback (called by OpenSSL for every handshake, with or without SNI) switches the
connection to the *current* context. :meth:`TlsContexts.reload` builds a new current
context from the files; if that fails (a half-written key, a mismatch) the old one stays
and the error is logged, so a bad reload never takes TLS down. Connections already up keep
the certificate they started with.

Only TLS 1.2 and 1.3 are offered (RFC 8996 deprecates 1.0 and 1.1), with forward-secret
AEAD cipher suites for 1.2 (RFC 9325 section 4.2), no compression and no renegotiation.
"""

from __future__ import annotations

import logging
import ssl

from pyimapd.config import TlsConfig

log = logging.getLogger("pyimapd.tls")

TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20"
_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


class TlsError(ValueError):
    """The certificate or key cannot be loaded."""


def build_context(config: TlsConfig) -> ssl.SSLContext:
    """A server context with the configured chain and key, modern settings only."""
    if config.cert is None or config.key is None:
        raise TlsError("TLS needs both a certificate and a key")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _VERSIONS[config.min_version]
    ctx.set_ciphers(TLS12_CIPHERS)
    ctx.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    ctx.options |= getattr(ssl, "OP_NO_RENEGOTIATION", 0)
    try:
        ctx.load_cert_chain(config.cert, config.key)
    except (OSError, ssl.SSLError) as exc:
        raise TlsError(f"cannot load TLS certificate {config.cert} / key {config.key}: {exc}") \
            from exc
    return ctx


class TlsContexts:
    def __init__(self, config: TlsConfig) -> None:
        self.config = config
        self.current = build_context(config)
        self.front = build_context(config)
        self.front.sni_callback = self._choose
        self.reloads = 0

    def _choose(self, sslobj: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> None:
        sslobj.context = self.current

    def reload(self) -> bool:
        """Re-reads the certificate and key (SIGHUP); keeps the old ones on failure."""
        try:
            fresh = build_context(self.config)
        except TlsError as exc:
            log.error("TLS reload failed, keeping the previous certificate: %s", exc)
            return False
        self.current = fresh
        self.reloads += 1
        log.info("TLS certificate reloaded from %s", self.config.cert)
        return True


def load_tls(config: TlsConfig, want_tls_listeners: bool) -> TlsContexts | None:
    """The TLS contexts when a certificate is configured; implicit-TLS listeners without
    one are a configuration error, not something to ignore."""
    if not config.enabled:
        if want_tls_listeners:
            raise TlsError("--listen-tls needs --tls-cert and --tls-key ([tls] cert and key)")
        return None
    return TlsContexts(config)
