"""Throwaway certificates (trustme) and helpers shared by the TLS and security tests."""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass
class Certs:
    ca: trustme.CA
    ca_path: Path
    cert_path: Path
    key_path: Path

    def client_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        return ctx

    def server_args(self) -> list[str]:
        return ["--tls-cert", str(self.cert_path), "--tls-key", str(self.key_path)]


def make_certs(
    directory: Path, name: str = "server", extra_names: tuple[str, ...] = ()
) -> Certs:
    """A fresh CA and a certificate for localhost / 127.0.0.1 signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA()
    leaf = ca.issue_cert("localhost", "127.0.0.1", *extra_names)
    certs = Certs(ca, directory / f"{name}-ca.pem", directory / f"{name}-cert.pem",
                  directory / f"{name}-key.pem")
    ca.cert_pem.write_to_path(str(certs.ca_path))
    leaf.private_key_pem.write_to_path(str(certs.key_path))
    with open(certs.cert_path, "wb") as fp:
        for pem in leaf.cert_chain_pems:
            fp.write(pem.bytes())
    return certs


def write_config(path: Path, text: str) -> list[str]:
    path.write_text(text)
    return ["--config", str(path)]


def local_ip() -> str | None:
    """A non-loopback address of this host, or None (no route configured)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: no packet is sent for UDP connect
        except OSError:
            return None
        ip = str(s.getsockname()[0])
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def read_until(sock: socket.socket, marker: bytes, limit: int = 1 << 20) -> bytes:
    """Reads until ``marker`` is seen (or EOF); the socket's timeout bounds each read."""
    buf = b""
    while marker not in buf and len(buf) < limit:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf
