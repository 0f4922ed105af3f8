"""A cluster's certificate authority: a self-signed x509 CA with CN `kubernetes`, like EKS's.

`certificateAuthority.data` in DescribeCluster is this certificate's PEM, base64-encoded (what
kubeconfig's `certificate-authority-data` takes). podid's local runtime does not serve the API
server over TLS, but the certificate is real and parseable by every x509 tool.
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CA_VALIDITY = timedelta(days=3650)


def generate_cluster_ca(now: datetime) -> str:
    """A new self-signed CA certificate (RSA 2048, SHA-256, 10 years) as PEM text."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def ca_data(pem: str) -> str:
    """The base64 of the PEM text, as `certificateAuthority.data` carries it."""
    return base64.b64encode(pem.encode("ascii")).decode("ascii")
