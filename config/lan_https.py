"""HTTPS on the local network for `manage.py serve --https`: phones give motion sensors only to
secure pages (the recorder, /record/), and a phone reaches the computer at its LAN address.
The certificate is self-signed: the phone's browser asks once to accept it."""

from __future__ import annotations

import ipaddress
import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def lan_address() -> str:
    """This machine's address on the network its default route leads to (nothing is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return probe.getsockname()[0]
        except OSError:  # no network: only this machine can connect
            return "127.0.0.1"


def self_signed_certificate(folder: Path, address: str) -> tuple[Path, Path]:
    """(key file, certificate file) for `address`, 127.0.0.1 and localhost; made once per address
    and kept, so that a phone that accepted it is not asked again."""
    key_file, cert_file = folder / f"{address}.key", folder / f"{address}.pem"
    if key_file.exists() and cert_file.exists():
        return key_file, cert_file
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"Workout journal on {address}")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=825))  # the longest validity Apple's devices accept
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address(address)), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    # Created readable by its owner only, never for a moment by anyone else.
    with os.fdopen(os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as private:
        private.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file
