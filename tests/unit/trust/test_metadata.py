"""Metadata verification: only a well-formed, unexpired aggregate signed by the pinned key is trusted."""

from __future__ import annotations

import datetime
import hashlib
import time
from pathlib import Path

import pytest
from lxml import etree
from saml2.xmldsig import DIGEST_SHA1
from saml2.xmldsig import SIG_RSA_SHA1

from gateway.trust.certs import KeyPair
from gateway.trust.metadata import MetadataRefused
from gateway.trust.metadata import diff
from gateway.trust.metadata import parse_duration
from gateway.trust.metadata import verify_metadata
from tests.peers.federation import FederationCA
from tests.peers.federation import aggregate
from tests.peers.federation import sign
from tests.peers.saml_idp import PeerIdP


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> list[PeerIdP]:
    folder = tmp_path_factory.mktemp("peers")
    return [
        PeerIdP(folder / "a", entity_id="https://a.test.example/idp", sso_url="https://a.test.example/sso"),
        PeerIdP(folder / "b", entity_id="https://b.test.example/idp", sso_url="https://b.test.example/sso"),
    ]


@pytest.fixture(scope="module")
def signed(peers: list[PeerIdP], signer: KeyPair) -> bytes:
    return sign(aggregate([p.metadata_xml() for p in peers], cache_duration="PT2H"), signer)


def _der_sha256(cert_pem: bytes) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def test_signed_aggregate_loads_with_its_entities_keys_and_limits(
    signed: bytes, signer: KeyPair, peers: list[PeerIdP]
) -> None:
    now = time.time()
    metadata = verify_metadata(signed, signer.cert_pem, now=now)
    assert [e.entity_id for e in metadata.entities] == [p.entity_id for p in peers]
    assert all(e.idp for e in metadata.entities)
    first = metadata.entity(peers[0].entity_id)
    assert first is not None
    assert first.fingerprints == {f"signing:{_der_sha256(peers[0].key_pair.cert_pem)}"}
    assert metadata.cache_duration == 7200
    assert metadata.valid_until is not None
    assert now + 6 * 86400 < metadata.valid_until < now + 8 * 86400
    assert metadata.version == hashlib.sha256(signed).hexdigest()
    assert metadata.signed


def _flip_byte_in_entity(document: bytes) -> bytes:
    """Change one byte inside the signed content (an SSO endpoint's host name)."""
    index = document.index(b"https://a.test.example/sso") + len(b"https://a.test.example/s")
    return document[:index] + bytes([document[index] ^ 0x01]) + document[index + 1 :]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("one byte changed", "does not verify"),
        ("signed by another key", "does not verify"),
        ("CA pinned instead of the signer", "does not verify"),
        ("expired", "validUntil has passed"),
        ("unsigned", "exactly one ds:Signature"),
        ("SHA-1 signature", "does not verify"),
        ("DOCTYPE", "DOCTYPE"),
        ("not well-formed", "not well-formed"),
        ("signed aggregate wrapped in another", "exactly one ds:Signature"),
    ],
)
def test_refused(
    case: str, reason: str, ca: FederationCA, signer: KeyPair, signed: bytes, peers: list[PeerIdP]
) -> None:
    entities = [p.metadata_xml() for p in peers]
    pinned = signer.cert_pem
    if case == "one byte changed":
        document = _flip_byte_in_entity(signed)
    elif case == "signed by another key":
        document = sign(aggregate(entities), ca.issue_signer("Another signer of the same CA"))
    elif case == "CA pinned instead of the signer":
        document, pinned = signed, ca.cert_pem
    elif case == "expired":
        document = sign(aggregate(entities, valid_for=datetime.timedelta(seconds=-5)), signer)
    elif case == "unsigned":
        document = aggregate(entities).encode()
    elif case == "SHA-1 signature":
        document = sign(aggregate(entities), signer, sign_alg=SIG_RSA_SHA1, digest_alg=DIGEST_SHA1)
    elif case == "DOCTYPE":
        body = signed.split(b"?>", 1)[1]
        document = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]>' + body
    elif case == "not well-formed":
        document = signed[: len(signed) // 2]
    else:
        outer = aggregate([])
        document = outer.replace(
            "</md:EntitiesDescriptor>", signed.split(b"?>", 1)[1].decode() + "</md:EntitiesDescriptor>"
        )
        document = document.encode()
    with pytest.raises(MetadataRefused) as refused:
        verify_metadata(document, pinned, now=time.time())
    assert reason in refused.value.reason


def test_the_same_document_verifies_before_the_change(signed: bytes, signer: KeyPair) -> None:
    """The one-byte case fails because of the byte, not because the document was never valid."""
    verify_metadata(signed, signer.cert_pem, now=time.time())
    with pytest.raises(MetadataRefused):
        verify_metadata(_flip_byte_in_entity(signed), signer.cert_pem, now=time.time())


def test_reference_to_the_whole_document_is_accepted(peers: list[PeerIdP], signer: KeyPair) -> None:
    """URI="" (the whole document, enveloped) signs the same content as "#<root ID>"."""
    document = sign(aggregate([p.metadata_xml() for p in peers]), signer)
    root = etree.fromstring(document)
    root.find(".//{http://www.w3.org/2000/09/xmldsig#}Reference").set("URI", "")
    del root.attrib["ID"]
    # Re-sign with the empty reference (xmlsec1 fills in the template as it stands).
    from tests.peers.federation import XMLSEC1

    folder = Path(peers[0].workdir)
    (folder / "signer.pem").write_bytes(signer.key_pem)
    (folder / "empty-ref.xml").write_bytes(etree.tostring(root))
    import subprocess

    out = subprocess.run(
        [XMLSEC1, "--sign", "--privkey-pem", str(folder / "signer.pem"), str(folder / "empty-ref.xml")],
        check=True,
        capture_output=True,
    ).stdout
    assert len(verify_metadata(out, signer.cert_pem, now=time.time()).entities) == 2
    root = etree.fromstring(out)
    root.find(".//{http://www.w3.org/2000/09/xmldsig#}Reference").set("URI", "#elsewhere")
    with pytest.raises(MetadataRefused):
        verify_metadata(etree.tostring(root), signer.cert_pem, now=time.time())


def test_unsigned_file_when_allowed_still_has_to_be_valid(peers: list[PeerIdP]) -> None:
    single = peers[0].metadata_xml().encode()
    assert verify_metadata(single, None, now=time.time()).entities[0].entity_id == peers[0].entity_id
    expired = aggregate([peers[0].metadata_xml()], valid_for=datetime.timedelta(seconds=-1)).encode()
    with pytest.raises(MetadataRefused):
        verify_metadata(expired, None, now=time.time())


def test_expired_entity_inside_a_valid_aggregate_is_left_out(peers: list[PeerIdP], signer: KeyPair) -> None:
    stale = (
        peers[1]
        .metadata_xml()
        .replace("<md:EntityDescriptor ", '<md:EntityDescriptor validUntil="2001-01-01T00:00:00Z" ', 1)
    )
    metadata = verify_metadata(
        sign(aggregate([peers[0].metadata_xml(), stale]), signer), signer.cert_pem, now=time.time()
    )
    assert [e.entity_id for e in metadata.entities] == [peers[0].entity_id]


def test_an_entity_id_twice_is_refused(peers: list[PeerIdP], signer: KeyPair) -> None:
    twice = sign(aggregate([peers[0].metadata_xml(), peers[0].metadata_xml()]), signer)
    with pytest.raises(MetadataRefused, match="more than once"):
        verify_metadata(twice, signer.cert_pem, now=time.time())


def test_diff_names_added_removed_and_changed_keys(tmp_path: Path, peers: list[PeerIdP], signer: KeyPair) -> None:
    now = time.time()
    old = verify_metadata(sign(aggregate([p.metadata_xml() for p in peers]), signer), signer.cert_pem, now=now)
    rekeyed = PeerIdP(tmp_path / "a2", entity_id=peers[0].entity_id, sso_url="https://a.test.example/sso")
    third = PeerIdP(tmp_path / "c", entity_id="https://c.test.example/idp")
    new = verify_metadata(
        sign(aggregate([rekeyed.metadata_xml(), third.metadata_xml()]), signer), signer.cert_pem, now=now
    )
    changes = diff(old, new)
    assert [e.entity_id for e in changes.added] == [third.entity_id]
    assert [e.entity_id for e in changes.removed] == [peers[1].entity_id]
    assert [(a.entity_id, b.entity_id) for a, b in changes.keys_changed] == [(peers[0].entity_id, peers[0].entity_id)]
    assert not diff(new, new)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("PT10M", 600), ("PT6H", 21600), ("P1D", 86400), ("P0Y0M0DT6H0M0.000S", 21600), ("PT1.5S", 1.5)],
)
def test_cache_duration_is_parsed(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "P", "PT", "10M", "-PT1H", "PT1H2"])
def test_bad_cache_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="xs:duration"):
        parse_duration(text)
