"""The local CA: one certificate per workload, its SPIFFE identity, private files."""

from __future__ import annotations

import stat
from pathlib import Path

from cryptography import x509

from keel_devstack.certs import WORKLOADS, issue, spiffe_id


def test_each_workload_gets_its_identity_signed_by_the_ca(tmp_path: Path) -> None:
    certs = issue(tmp_path / "tls")
    ca = x509.load_pem_x509_certificate(certs.ca_file.read_bytes())
    assert set(certs.workloads) == set(WORKLOADS)
    for workload in WORKLOADS:
        cert = x509.load_pem_x509_certificate(certs[workload].cert_file.read_bytes())
        cert.verify_directly_issued_by(ca)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert sans.get_values_for_type(x509.UniformResourceIdentifier) == [spiffe_id(workload)]
        assert sans.get_values_for_type(x509.DNSName) == ["localhost"]
        assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days <= 1


def test_keys_and_directory_are_private_and_reissued_on_each_start(tmp_path: Path) -> None:
    first = issue(tmp_path / "tls")
    assert stat.S_IMODE(first.directory.stat().st_mode) == 0o700
    for files in first.workloads.values():
        assert stat.S_IMODE(files.key_file.stat().st_mode) == 0o600
    before = first.ca_file.read_bytes()
    second = issue(tmp_path / "tls")
    assert second.ca_file.read_bytes() != before
    assert not list(tmp_path.glob("tls/ca-key*"))  # the CA key never touches the disk
