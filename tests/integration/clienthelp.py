"""Small helpers shared by the client tests: messages to append and a raw IMAP line reader."""

from __future__ import annotations

import re
import socket

CRLF = b"\r\n"


def make_message(
    subject: str, body: str = "Hello.\r\n", sender: str = "alice@example.org"
) -> bytes:
    """A small RFC 5322 message with CRLF line ends and a unique Message-ID."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-") or "x"
    head = (
        f"From: Alice <{sender}>\r\n"
        "To: Bob <bob@example.org>\r\n"
        f"Subject: {subject}\r\n"
        "Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n"
        f"Message-ID: <{slug}@example.org>\r\n"
        "\r\n"
    )
    return head.encode() + body.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def to_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class RawIMAP:
    """A bare IMAP connection: send lines, read lines and whole tagged replies."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.counter = 0

    def readline(self) -> bytes:
        while CRLF not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(CRLF, 1)
        return line

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("server closed the connection")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def tag(self) -> str:
        self.counter += 1
        return f"r{self.counter}"

    def command(self, line: str) -> tuple[list[bytes], bytes]:
        """Send one command (no literals); return (untagged lines, tagged line)."""
        tag = self.tag()
        self.send(f"{tag} {line}".encode() + CRLF)
        return self.until_tagged(tag)

    def until_tagged(self, tag: str) -> tuple[list[bytes], bytes]:
        untagged: list[bytes] = []
        while True:
            line = self.readline()
            m = re.search(rb"\{(\d+)\}$", line)
            while m:
                line += CRLF + self.read_exact(int(m.group(1))) + self.readline()
                m = re.search(rb"\{(\d+)\}$", line)
            if line.startswith(tag.encode() + b" "):
                return untagged, line
            untagged.append(line)

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass
