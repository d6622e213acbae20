"""gateway.saml.xmlsec_backend against real pysaml2 peers: an IdP on the xmlsec1 binary, real keys, no mocks.

Messages for the gateway's SP come from pysaml2's stock xmlsec1 backend, and what the backend itself signs
and encrypts (the sandbox IdP's path) must also satisfy an SP on xmlsec1, so a misreading shared by the
backend and its tests cannot pass unnoticed. The one exception is the encryption helper near the end, which
builds EncryptedData by hand to reach algorithms and shapes the stock IdP cannot produce. Each refusal test
names the rule it checks and fails when that rule is removed from the backend.
"""

from __future__ import annotations

import base64
import copy
import re
import urllib.parse
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import saml2.xmldsig as ds
import xmlsec
from cryptography.utils import CryptographyDeprecationWarning
from lxml import etree
from saml2 import BINDING_HTTP_POST
from saml2 import BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import IdPConfig
from saml2.config import SPConfig
from saml2.metadata import entity_descriptor
from saml2.metadata import metadata_tostring_fix
from saml2.response import AuthnResponse
from saml2.saml import NAME_FORMAT_URI
from saml2.sigver import CryptoBackendXmlSec1
from saml2.sigver import DecryptError
from saml2.sigver import SignatureError

from gateway.saml.xmlsec_backend import PythonXmlsecBackend
from gateway.saml.xmlsec_backend import _KeyCache
from gateway.saml.xmlsec_backend import decrypt_in_place
from gateway.saml.xmlsec_backend import public_key
from gateway.saml.xmlsec_backend import use_python_xmlsec
from gateway.trust.certs import generate_key_pair

with warnings.catch_warnings():
    # pysaml2 7.5.5's saml2.cryptography.symmetric (imported by saml2.server) reaches CFB through
    # cryptography's old module path at import time; pytest would turn that into a collection error.
    warnings.filterwarnings("ignore", message="CFB has been moved", category=CryptographyDeprecationWarning)
    from saml2.server import Server

XMLSEC1 = "/usr/bin/xmlsec1"
SP_ID = "https://gateway.example.org/saml/metadata"
ACS_URL = "https://gateway.example.org/saml/acs"
IDP_ID = "https://idp.example.org/idp"
SSO_URL = "https://idp.example.org/sso"
LOA3 = "http://id.elegnamnden.se/loa/1.0/loa3"

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
NS_XENC = "http://www.w3.org/2001/04/xmlenc#"
NS_XENC11 = "http://www.w3.org/2009/xmlenc11#"
RESPONSE = f"{NS_SAMLP}:Response"
ASSERTION = f"{NS_SAML}:Assertion"

AES128_CBC = f"{NS_XENC}aes128-cbc"
AES256_CBC = f"{NS_XENC}aes256-cbc"
AES128_GCM = f"{NS_XENC11}aes128-gcm"
AES192_GCM = f"{NS_XENC11}aes192-gcm"
AES256_GCM = f"{NS_XENC11}aes256-gcm"
TRIPLEDES_CBC = f"{NS_XENC}tripledes-cbc"
RSA_OAEP_MGF1P = f"{NS_XENC}rsa-oaep-mgf1p"
RSA_OAEP_11 = f"{NS_XENC11}rsa-oaep"
RSA_1_5 = f"{NS_XENC}rsa-1_5"
SHA1 = f"{NS_DS}sha1"
SHA256 = f"{NS_XENC}sha256"
MGF1_SHA256 = f"{NS_XENC11}mgf1sha256"

ATTRIBUTES = {"givenName": ["Testa"], "sn": ["Testsson"]}
# xmlsec1 generates the session key from "--session-key <kind>-<bits>"; the template names the algorithm.
_XMLSEC1_SESSION_KEY = {AES128_CBC: "aes-128", AES256_CBC: "aes-256", TRIPLEDES_CBC: "des-192"}


@dataclass(frozen=True)
class Keys:
    """PEM files for the IdP, the gateway SP, and an attacker whose key no metadata names."""

    idp_key: Path
    idp_cert: Path
    sp_key: Path
    sp_cert: Path
    other_key: Path
    other_cert: Path


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """Three RSA key pairs from the gateway's own generator, written once for the module."""
    directory = tmp_path_factory.mktemp("keys")
    paths: dict[str, Path] = {}
    for name in ("idp", "sp", "other"):
        pair = generate_key_pair(name)
        paths[f"{name}_key"] = directory / f"{name}.key"
        paths[f"{name}_cert"] = directory / f"{name}.crt"
        paths[f"{name}_key"].write_bytes(pair.key_pem)
        paths[f"{name}_cert"].write_bytes(pair.cert_pem)
    return Keys(**paths)


class ProfileXmlSec1(CryptoBackendXmlSec1):
    """pysaml2's xmlsec1 backend, encrypting with the algorithms a test chooses.

    A stock pysaml2 IdP always encrypts with 3DES (``pre_encryption_part`` and ``SecurityContext``
    defaults, not configurable), which the Deployment Profile does not allow. xmlsec1 takes the
    algorithm from the template and the session key size from ``--session-key``.
    """

    def __init__(self) -> None:
        super().__init__(XMLSEC1)
        self.block_encryption = AES256_CBC
        self.key_transport = RSA_OAEP_MGF1P

    def encrypt_assertion(
        self,
        statement: Any,
        enc_key: str,
        template: Any,
        key_type: str = "des-192",
        node_xpath: str | None = None,
        node_id: str | None = None,
    ) -> Any:
        """Rewrite the template's algorithms, then let xmlsec1 encrypt."""
        template.encryption_method.algorithm = self.block_encryption
        template.key_info.encrypted_key.encryption_method.algorithm = self.key_transport
        session_key = _XMLSEC1_SESSION_KEY[self.block_encryption]
        return super().encrypt_assertion(statement, enc_key, template, session_key, node_xpath, node_id)


def _crypto(backend: str) -> dict[str, str]:
    if backend == "xmlsec1":
        return {"crypto_backend": "xmlsec1", "xmlsec_binary": XMLSEC1}
    return {"crypto_backend": backend}


def sp_config(keys: Keys, backend: str, idp_metadata: str | None = None, **sp: Any) -> SPConfig:
    """The gateway SP's settings that matter here (as in gateway.saml.sp), on the given crypto backend."""
    service = {
        "endpoints": {"assertion_consumer_service": [(ACS_URL, BINDING_HTTP_POST)]},
        "authn_requests_signed": True,
        "want_response_signed": True,
        "want_assertions_signed": False,
        "allow_unsolicited": False,
        **sp,
    }
    config: dict[str, Any] = {
        "entityid": SP_ID,
        "key_file": str(keys.sp_key),
        "cert_file": str(keys.sp_cert),
        "encryption_keypairs": [{"key_file": str(keys.sp_key), "cert_file": str(keys.sp_cert)}],
        "only_use_keys_in_metadata": True,
        "signing_algorithm": ds.SIG_RSA_SHA256,
        "digest_algorithm": ds.DIGEST_SHA256,
        "service": {"sp": service},
        **_crypto(backend),
    }
    if idp_metadata is not None:
        config["metadata"] = {"inline": [idp_metadata]}
    return SPConfig().load(config)


def idp_config(
    keys: Keys, backend: str, sp_metadata: str | None = None, *, key: Path | None = None, cert: Path | None = None
) -> IdPConfig:
    """A Swedish-profile IdP: signed requests wanted, RSA-SHA256, URI attribute names."""
    config: dict[str, Any] = {
        "entityid": IDP_ID,
        "key_file": str(key or keys.idp_key),
        "cert_file": str(cert or keys.idp_cert),
        "signing_algorithm": ds.SIG_RSA_SHA256,
        "digest_algorithm": ds.DIGEST_SHA256,
        "service": {
            "idp": {
                "endpoints": {"single_sign_on_service": [(SSO_URL, BINDING_HTTP_REDIRECT)]},
                "want_authn_requests_signed": True,
                "name_id_format": ["urn:oasis:names:tc:SAML:2.0:nameid-format:transient"],
                "policy": {"default": {"lifetime": {"minutes": 5}, "name_form": NAME_FORMAT_URI}},
            }
        },
        **_crypto(backend),
    }
    if sp_metadata is not None:
        config["metadata"] = {"inline": [sp_metadata]}
    return IdPConfig().load(config)


def metadata(config: SPConfig | IdPConfig) -> str:
    """The entity's metadata as pysaml2 publishes it."""
    xml = metadata_tostring_fix(entity_descriptor(config), {"xs": "http://www.w3.org/2001/XMLSchema"}, None)
    return xml.decode() if isinstance(xml, bytes) else str(xml)


@pytest.fixture(scope="module")
def sp_metadata(keys: Keys) -> str:
    """The gateway SP's metadata, with its signing and encryption certificate."""
    return metadata(sp_config(keys, "XMLSecurity"))


@pytest.fixture(scope="module")
def idp_metadata(keys: Keys) -> str:
    """The IdP's metadata, naming the IdP's certificate (never the attacker's)."""
    return metadata(idp_config(keys, "xmlsec1"))


@pytest.fixture(scope="module")
def make_sp(keys: Keys, idp_metadata: str) -> Callable[..., Saml2Client]:
    """Build an SP on python-xmlsec, as gateway.saml.sp does, with optional SP-section overrides."""

    def make(**sp: Any) -> Saml2Client:
        client = Saml2Client(config=sp_config(keys, "XMLSecurity", idp_metadata, **sp))
        use_python_xmlsec(client)
        return client

    return make


@pytest.fixture(scope="module")
def sp(make_sp: Callable[..., Saml2Client]) -> Saml2Client:
    """The gateway-like SP under test."""
    return make_sp()


@pytest.fixture(scope="module")
def idp(keys: Keys, sp_metadata: str) -> Server:
    """An independent IdP: pysaml2 on the xmlsec1 binary, encrypting with AES-256-CBC and RSA-OAEP."""
    server = Server(config=idp_config(keys, "xmlsec1", sp_metadata))
    server.sec.crypto = ProfileXmlSec1()
    return server


@pytest.fixture(scope="module")
def sandbox_idp(keys: Keys, sp_metadata: str) -> Server:
    """The gateway's sandbox IdP setup: pysaml2 Server on python-xmlsec through use_python_xmlsec."""
    server = Server(config=idp_config(keys, "XMLSecurity", sp_metadata))
    use_python_xmlsec(server)
    return server


def authn_response(
    server: Server,
    keys: Keys,
    *,
    in_response_to: str = "id-request",
    sign_response: bool = True,
    sign_assertion: bool = False,
    encrypt: bool = False,
    sign_alg: str = ds.SIG_RSA_SHA256,
    digest_alg: str = ds.DIGEST_SHA256,
) -> str:
    """A Response from ``server`` to the gateway SP, as XML text."""
    response = server.create_authn_response(
        ATTRIBUTES,
        in_response_to,
        ACS_URL,
        SP_ID,
        sign_response=sign_response,
        sign_assertion=sign_assertion,
        encrypt_assertion=encrypt,
        encrypt_cert_assertion=keys.sp_cert.read_text() if encrypt else None,
        sign_alg=sign_alg,
        digest_alg=digest_alg,
        authn={"class_ref": LOA3},
    )
    return str(response)


def consume(client: Saml2Client, xml: str, request_id: str = "id-request") -> AuthnResponse | None:
    """The SP's ACS step: what the gateway calls with the POSTed SAMLResponse."""
    posted = base64.b64encode(xml.encode("utf-8"))
    return client.parse_authn_request_response(posted, BINDING_HTTP_POST, outstanding={request_id: "/"})


def root_id(xml: str) -> str:
    """The ID of the document element."""
    return str(etree.fromstring(xml.encode("utf-8")).get("ID"))


BACKEND = PythonXmlsecBackend()


def backend_refusal(xml: str, keys: Keys, node_name: str = RESPONSE, node_id: str | None = None) -> str:
    """Why the backend refuses to verify ``node_id`` (default: the Response) with the IdP's trusted cert."""
    with pytest.raises(SignatureError) as refused:
        BACKEND.validate_signature(xml, str(keys.idp_cert), "pem", node_name, node_id or root_id(xml))
    return str(refused.value)


# --- Round trips ------------------------------------------------------------------------------------


def test_signed_authn_request_reaches_the_idp(sp: Saml2Client, idp: Server) -> None:
    """The SP signs the Redirect-binding query with RSA-SHA256 (the RSACrypto set by use_python_xmlsec)."""
    request_id, info = sp.prepare_for_authenticate(
        entityid=IDP_ID, binding=BINDING_HTTP_REDIRECT, sigalg=ds.SIG_RSA_SHA256
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(dict(info["headers"])["Location"]).query))
    assert query["SigAlg"] == ds.SIG_RSA_SHA256

    request = idp.parse_authn_request(
        query["SAMLRequest"], BINDING_HTTP_REDIRECT, sigalg=query["SigAlg"], signature=query["Signature"]
    )

    assert request.message.id == request_id


@pytest.mark.parametrize("sign_assertion", [True, False], ids=["assertion-signed", "response-signed-only"])
def test_encrypted_response_from_xmlsec1_idp_is_accepted(
    sp: Saml2Client, idp: Server, keys: Keys, sign_assertion: bool
) -> None:
    request_id, _ = sp.prepare_for_authenticate(
        entityid=IDP_ID, binding=BINDING_HTTP_REDIRECT, sigalg=ds.SIG_RSA_SHA256
    )
    xml = authn_response(idp, keys, in_response_to=request_id, sign_assertion=sign_assertion, encrypt=True)
    assert "Testa" not in xml

    response = consume(sp, xml, request_id)

    assert response is not None
    assert response.assertion is not None
    assert response.ava == ATTRIBUTES


@pytest.mark.parametrize("sign_assertion", [True, False], ids=["assertion-signed", "response-signed-only"])
def test_sandbox_idp_on_python_xmlsec_round_trip(
    sp: Saml2Client, sandbox_idp: Server, keys: Keys, sign_assertion: bool
) -> None:
    request_id, info = sp.prepare_for_authenticate(
        entityid=IDP_ID, binding=BINDING_HTTP_REDIRECT, sigalg=ds.SIG_RSA_SHA256
    )
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(dict(info["headers"])["Location"]).query))
    sandbox_idp.parse_authn_request(
        query["SAMLRequest"], BINDING_HTTP_REDIRECT, sigalg=query["SigAlg"], signature=query["Signature"]
    )
    xml = authn_response(sandbox_idp, keys, in_response_to=request_id, sign_assertion=sign_assertion, encrypt=True)
    algorithms = {m.get("Algorithm") for m in etree.fromstring(xml.encode()).iter(f"{{{NS_XENC}}}EncryptionMethod")}
    assert algorithms == {AES256_GCM, RSA_OAEP_MGF1P}

    response = consume(sp, xml, request_id)

    assert response is not None
    assert response.ava == ATTRIBUTES


def test_sandbox_idp_output_is_accepted_by_xmlsec1(keys: Keys, idp_metadata: str, sandbox_idp: Server) -> None:
    """An independent SP (xmlsec1 binary) verifies and decrypts what the backend signs and encrypts."""
    xmlsec1_sp = Saml2Client(config=sp_config(keys, "xmlsec1", idp_metadata))
    xml = authn_response(sandbox_idp, keys, sign_assertion=True, encrypt=True)

    response = consume(xmlsec1_sp, xml)

    assert response is not None
    assert response.ava == ATTRIBUTES


# --- Signature refusals (saml-core 5.4, Deployment Profile 8.1/8.2) --------------------------------


def test_attribute_changed_after_signing_is_refused(sp: Saml2Client, idp: Server, keys: Keys) -> None:
    xml = authn_response(idp, keys).replace(">Testa<", ">Mallory<")

    with pytest.raises(SignatureError):
        consume(sp, xml)
    assert "does not verify" in backend_refusal(xml, keys)


def test_signature_by_a_key_not_in_metadata_is_refused(sp: Saml2Client, keys: Keys, sp_metadata: str) -> None:
    """The attacker's certificate rides in ds:KeyInfo; only the metadata certificate may be used."""
    impostor = Server(config=idp_config(keys, "xmlsec1", sp_metadata, key=keys.other_key, cert=keys.other_cert))
    xml = authn_response(impostor, keys)
    assert keys.other_cert.read_text().splitlines()[1] in xml

    with pytest.raises(SignatureError):
        consume(sp, xml)
    assert "does not verify" in backend_refusal(xml, keys)


def test_rsa_sha1_signature_is_refused(sp: Saml2Client, idp: Server, keys: Keys) -> None:
    xml = authn_response(idp, keys, sign_alg=ds.SIG_RSA_SHA1)

    with pytest.raises(SignatureError):
        consume(sp, xml)
    assert "does not verify" in backend_refusal(xml, keys)


def test_sha1_digest_is_refused(sp: Saml2Client, idp: Server, keys: Keys) -> None:
    xml = authn_response(idp, keys, digest_alg=ds.DIGEST_SHA1)

    with pytest.raises(SignatureError):
        consume(sp, xml)
    assert "does not verify" in backend_refusal(xml, keys)


def test_wrapped_copy_of_the_signed_assertion_is_refused(
    make_sp: Callable[..., Saml2Client], idp: Server, keys: Keys
) -> None:
    """XML signature wrapping: the signed original hides in Extensions, a forged twin with its ID is read.

    Needs an SP that accepts an unsigned Response with signed assertions (the gateway does not), since
    a Response signature would cover the forgery. Without the unique-ID rule this SP reads "Mallory".
    """
    assertions_only_sp = make_sp(want_response_signed=False, want_assertions_signed=True)
    root = etree.fromstring(authn_response(idp, keys, sign_response=False, sign_assertion=True).encode())
    original = root.find(f"{{{NS_SAML}}}Assertion")
    forged = copy.deepcopy(original)
    for value in forged.iter(f"{{{NS_SAML}}}AttributeValue"):
        if value.text == "Testa":
            value.text = "Mallory"
    original.addprevious(forged)
    extensions = etree.Element(f"{{{NS_SAMLP}}}Extensions")
    root.find(f"{{{NS_SAML}}}Issuer").addnext(extensions)
    extensions.append(original)
    xml = etree.tostring(root, encoding="unicode")

    with pytest.raises(SignatureError):
        consume(assertions_only_sp, xml)
    assert "more than once" in backend_refusal(xml, keys, ASSERTION, original.get("ID"))


def test_doctype_is_refused(sp: Saml2Client, idp: Server, keys: Keys) -> None:
    """pysaml2's own parser lets a DOCTYPE without entities through; the backend refuses it outright."""
    xml = re.sub(r"^(<\?xml[^>]*\?>\s*)?", r"\1<!DOCTYPE Response>", authn_response(idp, keys), count=1)

    with pytest.raises(SignatureError):
        consume(sp, xml)
    assert "DOCTYPE" in backend_refusal(xml, keys)


def test_signature_of_another_element_is_refused(idp: Server, keys: Keys) -> None:
    """A valid signature counts only for the element pysaml2 consumes (node_name must match the ID's element)."""
    xml = authn_response(idp, keys)

    assert "not the expected element" in backend_refusal(xml, keys, ASSERTION, root_id(xml))


def test_sandbox_idp_refuses_to_sign_with_sha1(sandbox_idp: Server, keys: Keys) -> None:
    """pysaml2 defaults to RSA-SHA1; the backend's algorithm list applies to signing too."""
    with pytest.raises(SignatureError):
        authn_response(sandbox_idp, keys, sign_alg=ds.SIG_RSA_SHA1)


# --- Decryption (Deployment Profile 8.3/8.4) -----------------------------------------------------------


def test_rsa_1_5_key_transport_is_refused(
    sp: Saml2Client, idp: Server, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pysaml2 swallows DecryptError and returns a Response with no assertion: the caller must refuse that."""
    monkeypatch.setattr(idp.sec.crypto, "key_transport", RSA_1_5)
    xml = authn_response(idp, keys, encrypt=True)

    response = consume(sp, xml)

    assert response is None or (response.assertion is None and not response.ava)
    with pytest.raises(DecryptError, match="key transport"):
        BACKEND.decrypt(xml, str(keys.sp_key))


def test_3des_from_a_stock_pysaml2_idp_is_refused(
    sp: Saml2Client, idp: Server, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(idp.sec.crypto, "block_encryption", TRIPLEDES_CBC)
    xml = authn_response(idp, keys, encrypt=True)

    response = consume(sp, xml)

    assert response is None or (response.assertion is None and not response.ava)
    with pytest.raises(DecryptError, match="block encryption"):
        BACKEND.decrypt(xml, str(keys.sp_key))


def encrypt_assertion_by_hand(
    xml: str,
    cert: Path,
    block: str,
    transport: str,
    digest: str | None = None,
    mgf: str | None = None,
    label: bytes | None = None,
) -> etree._Element:
    """Replace the Response's Assertion by an EncryptedAssertion built here with python-xmlsec.

    Used only for algorithms and shapes the stock IdP cannot produce (xmlenc 1.1 RSA-OAEP, AES-GCM with
    chosen key sizes, a CipherReference); the plaintext is the self-contained Assertion element.
    """
    root = etree.fromstring(xml.encode())
    assertion = root.find(f"{{{NS_SAML}}}Assertion")
    encrypted_assertion = etree.Element(f"{{{NS_SAML}}}EncryptedAssertion")
    assertion.addprevious(encrypted_assertion)
    standalone = etree.fromstring(etree.tostring(assertion))
    root.remove(assertion)
    data = etree.Element(f"{{{NS_XENC}}}EncryptedData", nsmap={"xenc": NS_XENC, "ds": NS_DS}, Type=f"{NS_XENC}Element")
    etree.SubElement(data, f"{{{NS_XENC}}}EncryptionMethod", Algorithm=block)
    encrypted_key = etree.SubElement(etree.SubElement(data, f"{{{NS_DS}}}KeyInfo"), f"{{{NS_XENC}}}EncryptedKey")
    method = etree.SubElement(encrypted_key, f"{{{NS_XENC}}}EncryptionMethod", Algorithm=transport)
    if digest:
        etree.SubElement(method, f"{{{NS_DS}}}DigestMethod", Algorithm=digest)
    if mgf:
        etree.SubElement(method, f"{{{NS_XENC11}}}MGF", Algorithm=mgf)
    if label:
        etree.SubElement(method, f"{{{NS_XENC}}}OAEPparams").text = base64.b64encode(label).decode()
    for parent in (encrypted_key, data):
        etree.SubElement(etree.SubElement(parent, f"{{{NS_XENC}}}CipherData"), f"{{{NS_XENC}}}CipherValue")
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_file(str(cert), xmlsec.constants.KeyDataFormatCertPem))
    context = xmlsec.EncryptionContext(manager)
    bits = int(re.search(r"aes(\d+)", block).group(1)) if "aes" in block else 192
    key_data = xmlsec.constants.KeyDataAes if "aes" in block else xmlsec.constants.KeyDataDes
    context.key = xmlsec.Key.generate(key_data, bits, xmlsec.constants.KeyDataTypeSession)
    encrypted_assertion.append(context.encrypt_xml(data, standalone))
    return root


PROFILE_ALGORITHMS = pytest.mark.parametrize(
    ("block", "transport", "digest", "mgf", "label"),
    [
        (AES128_CBC, RSA_OAEP_MGF1P, None, None, None),
        (AES256_CBC, RSA_OAEP_MGF1P, SHA1, None, None),
        (AES128_GCM, RSA_OAEP_MGF1P, SHA256, None, None),
        (AES192_GCM, RSA_OAEP_11, SHA1, None, None),
        (AES256_GCM, RSA_OAEP_11, SHA256, MGF1_SHA256, None),
        (AES256_GCM, RSA_OAEP_11, SHA256, MGF1_SHA256, b"a label"),
        (AES256_CBC, RSA_OAEP_MGF1P, SHA256, None, b"\x00\x01"),
    ],
)


@PROFILE_ALGORITHMS
def test_profile_algorithms_are_decrypted(
    idp: Server, keys: Keys, block: str, transport: str, digest: str | None, mgf: str | None, label: bytes | None
) -> None:
    """Everything Deployment Profile 8.3/8.4 lists, including the SHA-1 OAEP digest it makes the default."""
    root = encrypt_assertion_by_hand(
        authn_response(idp, keys, sign_response=False), keys.sp_cert, block, transport, digest, mgf, label
    )

    decrypted = etree.fromstring(BACKEND.decrypt(etree.tostring(root), str(keys.sp_key)).encode())

    assert decrypted.find(f"{{{NS_SAML}}}EncryptedAssertion/{{{NS_SAML}}}Assertion") is not None
    assert "Testa" in etree.tostring(decrypted, encoding="unicode")


@PROFILE_ALGORITHMS
def test_the_gateways_key_unwrap_agrees_with_libxmlsec1(
    idp: Server, keys: Keys, block: str, transport: str, digest: str | None, mgf: str | None, label: bytes | None
) -> None:
    """`decrypt_in_place` unwraps the session key with cryptography's RSA-OAEP from the parameters it reads
    itself: for every profile algorithm it must give exactly the plaintext libxmlsec1 gives on its own."""
    root = encrypt_assertion_by_hand(
        authn_response(idp, keys, sign_response=False), keys.sp_cert, block, transport, digest, mgf, label
    )
    by_libxmlsec1 = etree.fromstring(BACKEND.decrypt(etree.tostring(root), str(keys.sp_key)).encode())

    plaintext = decrypt_in_place(next(root.iter(f"{{{NS_XENC}}}EncryptedData")), (str(keys.sp_key),))

    expected = by_libxmlsec1.find(f"{{{NS_SAML}}}EncryptedAssertion/{{{NS_SAML}}}Assertion")
    assert etree.tostring(plaintext, method="c14n") == etree.tostring(expected, method="c14n")


def test_a_wrong_oaep_label_opens_nothing(idp: Server, keys: Keys) -> None:
    """The OAEP label is part of the key transport: the same ciphertext with another OAEPparams fails."""
    root = encrypt_assertion_by_hand(
        authn_response(idp, keys, sign_response=False), keys.sp_cert, AES256_GCM, RSA_OAEP_11, SHA256, MGF1_SHA256,
        b"a label",
    )  # fmt: skip
    next(root.iter(f"{{{NS_XENC}}}OAEPparams")).text = base64.b64encode(b"another").decode()

    with pytest.raises(DecryptError, match="no decryption key"):
        decrypt_in_place(next(root.iter(f"{{{NS_XENC}}}EncryptedData")), (str(keys.sp_key),))


def test_a_session_key_of_the_wrong_size_is_refused(idp: Server, keys: Keys) -> None:
    """A session key made for AES-128 under an EncryptionMethod that says AES-256 is not handed to libxmlsec1."""
    root = encrypt_assertion_by_hand(
        authn_response(idp, keys, sign_response=False), keys.sp_cert, AES128_GCM, RSA_OAEP_MGF1P
    )
    encrypted_data = next(root.iter(f"{{{NS_XENC}}}EncryptedData"))
    encrypted_data.find(f"{{{NS_XENC}}}EncryptionMethod").set("Algorithm", AES256_GCM)

    with pytest.raises(DecryptError, match="does not fit"):
        decrypt_in_place(encrypted_data, (str(keys.sp_key),))


def test_cipher_reference_to_a_local_file_is_refused(idp: Server, keys: Keys, tmp_path: Path) -> None:
    """python-xmlsec follows a CipherReference to a file or URL and cannot be told not to."""
    root = encrypt_assertion_by_hand(
        authn_response(idp, keys, sign_response=False), keys.sp_cert, AES256_CBC, RSA_OAEP_MGF1P
    )
    cipher_data = root.find(f".//{{{NS_XENC}}}EncryptedData/{{{NS_XENC}}}CipherData")
    cipher_value = cipher_data.find(f"{{{NS_XENC}}}CipherValue")
    ciphertext = tmp_path / "ciphertext.bin"
    ciphertext.write_bytes(base64.b64decode(cipher_value.text))
    cipher_data.remove(cipher_value)
    etree.SubElement(cipher_data, f"{{{NS_XENC}}}CipherReference", URI=ciphertext.as_uri())

    with pytest.raises(DecryptError, match="outside the document"):
        BACKEND.decrypt(etree.tostring(root), str(keys.sp_key))


# --- Wiring and key cache ------------------------------------------------------------------------------


def test_keys_are_cached_by_content_not_file_name(keys: Keys, tmp_path: Path) -> None:
    """pysaml2 writes each metadata certificate to a fresh temp file per call; the content is the cache key."""
    copy_of_cert = tmp_path / "same-cert-new-name.pem"
    copy_of_cert.write_bytes(keys.idp_cert.read_bytes())
    cache = _KeyCache()
    pem = xmlsec.constants.KeyDataFormatCertPem

    first = cache.load(str(keys.idp_cert), pem, SignatureError)

    assert cache.load(str(copy_of_cert), pem, SignatureError) is first
    assert cache.load(str(keys.other_cert), pem, SignatureError) is not first


def test_verification_keys_are_the_certificates_public_key_from_file_or_memory(keys: Keys) -> None:
    """A signature made with the IdP's key verifies with the verification key of its certificate, whether
    the certificate comes as a file (pysaml2's backend) or from memory (`public_key`, for the gateway's own
    Response check); another certificate's key refuses it."""
    document = etree.fromstring(f'<r xmlns:ds="{NS_DS}" ID="_x"><v>1</v></r>'.encode())
    template = xmlsec.template.create(document, xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformRsaSha256)
    reference = xmlsec.template.add_reference(template, xmlsec.constants.TransformSha256, uri="#_x")
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformEnveloped)
    xmlsec.template.add_transform(reference, xmlsec.constants.TransformExclC14N)
    document.append(template)
    xmlsec.tree.add_ids(document, ["ID"])
    signer = xmlsec.SignatureContext()
    signer.key = xmlsec.Key.from_file(str(keys.idp_key), xmlsec.constants.KeyDataFormatPem)
    signer.sign(template)
    cache = _KeyCache()

    for key in (cache.verification_key(str(keys.idp_cert), SignatureError), public_key(keys.idp_cert.read_bytes())):
        verifier = xmlsec.SignatureContext()
        verifier.key = key
        verifier.verify(template)
    verifier = xmlsec.SignatureContext()
    verifier.key = cache.verification_key(str(keys.other_cert), SignatureError)
    with pytest.raises(xmlsec.Error):
        verifier.verify(template)
    with pytest.raises(SignatureError, match="usable key"):
        public_key(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")


def test_use_python_xmlsec_refuses_an_entity_on_another_backend(keys: Keys, idp_metadata: str) -> None:
    xmlsec1_sp = Saml2Client(config=sp_config(keys, "xmlsec1", idp_metadata))

    with pytest.raises(ValueError, match="XMLSecurity"):
        use_python_xmlsec(xmlsec1_sp)


def test_use_python_xmlsec_refuses_keys_from_messages(keys: Keys, idp_metadata: str) -> None:
    config = sp_config(keys, "XMLSecurity", idp_metadata)
    config.only_use_keys_in_metadata = False
    client = Saml2Client(config=config)

    with pytest.raises(ValueError, match="only_use_keys_in_metadata"):
        use_python_xmlsec(client)
