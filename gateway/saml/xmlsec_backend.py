"""XML signatures and encryption in-process with python-xmlsec, stricter than its defaults.

Two users: the gateway's own Response check (`gateway.saml.response_document`), through
`parse_received`, `verify_enveloped` and `decrypt_in_place` on one parsed tree; and pysaml2, for the
sandbox IdP and SP metadata, through `PythonXmlsecBackend`, a ``saml2.sigver.CryptoBackend``. pysaml2's
default backend runs the xmlsec1 binary over temp files; its "XMLSecurity" backend is pyXMLSecurity,
another package that also installs a top-level module named ``xmlsec``, ignores which element it is
asked to verify and cannot decrypt. Both paths check what libxmlsec1 leaves to its caller:

* Signatures (saml-core 5.4, XML Signature profile): the key comes only from trusted metadata, never
  from ``ds:KeyInfo`` in the message; the signature verified is the single enveloped ``ds:Signature``
  child of exactly the element consumed, with one Reference to that element's own ID; no ID value may
  occur twice in the document (saml-core 1.3.4), which is what stops signature wrapping; documents with
  a DOCTYPE are refused before any signature or decryption work, by a parser that loads nothing from
  outside the document.
* Algorithms (Swedish eID Framework, Deployment Profile section 8): only the digest, signature,
  block-encryption and key-transport algorithms listed there are accepted, in both directions.
  libxmlsec1 accepts RSA-SHA1, SHA-1 digests, 3DES and RSA PKCS#1 v1.5 key transport by default.
* Decryption: python-xmlsec's ``EncryptionContext`` cannot restrict algorithms or URIs and will follow a
  ``xenc:CipherReference`` or ``ds:RetrievalMethod`` to a local file or a URL, so the structure and
  every algorithm of the ``xenc:EncryptedData`` are checked before it is handed over.

``use_python_xmlsec`` is the one way pysaml2 gets this backend. Every failure raises a subclass of
``saml2.sigver.XmlsecError`` whose message never carries document content, so no assertion or
attribute reaches a log through it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import importlib.metadata
import secrets
import threading
from collections.abc import Callable
from collections.abc import Sequence
from typing import Any
from typing import Final
from typing import TypeVar

import saml2.entity
import saml2.sigver
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric import rsa
from lxml import etree
from saml2 import SamlBase
from saml2.sigver import ASSERT_XPATH
from saml2.sigver import DecryptError
from saml2.sigver import EncryptError
from saml2.sigver import RSACrypto
from saml2.sigver import SignatureError
from saml2.sigver import XmlsecError
from saml2.sigver import import_rsa_key_from_file
from saml2.sigver import pre_encrypt_assertion

from gateway.os_thread import os_thread_local
from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_DSIG_MORE
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XENC
from gateway.saml.namespaces import NS_XENC11

_DS_SIGNATURE: Final = f"{{{NS_DS}}}Signature"
_DS_SIGNED_INFO: Final = f"{{{NS_DS}}}SignedInfo"
_DS_REFERENCE: Final = f"{{{NS_DS}}}Reference"
_DS_KEY_INFO: Final = f"{{{NS_DS}}}KeyInfo"
_DS_DIGEST_METHOD: Final = f"{{{NS_DS}}}DigestMethod"
_DS_RETRIEVAL_METHOD: Final = f"{{{NS_DS}}}RetrievalMethod"
_XENC_ENCRYPTED_DATA: Final = f"{{{NS_XENC}}}EncryptedData"
_XENC_ENCRYPTED_KEY: Final = f"{{{NS_XENC}}}EncryptedKey"
_XENC_ENCRYPTION_METHOD: Final = f"{{{NS_XENC}}}EncryptionMethod"
_XENC_CIPHER_REFERENCE: Final = f"{{{NS_XENC}}}CipherReference"
_XENC_CIPHER_DATA: Final = f"{{{NS_XENC}}}CipherData"
_XENC_CIPHER_VALUE: Final = f"{{{NS_XENC}}}CipherValue"
_XENC_OAEP_PARAMS: Final = f"{{{NS_XENC}}}OAEPparams"
_XENC_AGREEMENT_METHOD: Final = f"{{{NS_XENC}}}AgreementMethod"
_XENC11_MGF: Final = f"{{{NS_XENC11}}}MGF"
_XENC11_DERIVED_KEY: Final = f"{{{NS_XENC11}}}DerivedKey"
ENC_TYPE_ELEMENT: Final = f"{NS_XENC}Element"

# The SAML elements of EncryptedElementType (saml-core 2.2.4), whose xenc:EncryptedData pysaml2 asks us to
# decrypt: EncryptedID (2.2.4), EncryptedAssertion (2.3.4), EncryptedAttribute (2.7.3.2), NewEncryptedID (3.6.1).
_ENCRYPTED_ELEMENT_PARENTS: Final = frozenset(
    {
        f"{{{NS_SAML}}}EncryptedAssertion",
        f"{{{NS_SAML}}}EncryptedID",
        f"{{{NS_SAML}}}EncryptedAttribute",
        f"{{{NS_SAMLP}}}NewEncryptedID",
    }
)

# Deployment Profile 8.1 (digests), 8.2 (signatures) and saml-core 5.4.3/5.4.4 (exclusive c14n, enveloped).
# libxmlsec1 checks these itself once the lists are set on the SignatureContext; SHA-1 is absent on purpose.
_C14N_METHODS: Final = (xmlsec.constants.TransformExclC14N, xmlsec.constants.TransformExclC14NWithComments)
_SIGNATURE_METHODS: Final = (
    xmlsec.constants.TransformRsaSha256,
    xmlsec.constants.TransformRsaSha384,
    xmlsec.constants.TransformRsaSha512,
    xmlsec.constants.TransformEcdsaSha256,
    xmlsec.constants.TransformEcdsaSha384,
    xmlsec.constants.TransformEcdsaSha512,
)
_DIGEST_METHODS: Final = (
    xmlsec.constants.TransformSha256,
    xmlsec.constants.TransformSha384,
    xmlsec.constants.TransformSha512,
)
_REFERENCE_TRANSFORMS: Final = (xmlsec.constants.TransformEnveloped, *_C14N_METHODS, *_DIGEST_METHODS)
_SIGNATURE_TRANSFORMS: Final = (*_C14N_METHODS, *_SIGNATURE_METHODS)

# Deployment Profile 8.3: AES-CBC mandatory, AES-GCM optional; 3DES is not listed, so it is refused.
# Each with the length of its key in bytes, which an unwrapped session key must have.
BLOCK_ENCRYPTION_ALGORITHMS: Final = {
    f"{NS_XENC}aes128-cbc": 16,
    f"{NS_XENC}aes192-cbc": 24,
    f"{NS_XENC}aes256-cbc": 32,
    f"{NS_XENC11}aes128-gcm": 16,
    f"{NS_XENC11}aes192-gcm": 24,
    f"{NS_XENC11}aes256-gcm": 32,
}
# Deployment Profile 8.4: RSA-OAEP only; RSA PKCS#1 v1.5 (xmlenc#rsa-1_5) is "considered broken" (section 8).
# The OAEP digest may be SHA-1, which the profile makes the default (its use there is padding, not integrity).
KEY_TRANSPORT_ALGORITHMS: Final = frozenset({f"{NS_XENC}rsa-oaep-mgf1p", f"{NS_XENC11}rsa-oaep"})
_OAEP_DIGESTS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    f"{NS_DS}sha1": hashes.SHA1,
    f"{NS_XENC}sha256": hashes.SHA256,
    f"{NS_DSIG_MORE}sha384": hashes.SHA384,
    f"{NS_XENC}sha512": hashes.SHA512,
}
_OAEP_MGFS: Final[dict[str, type[hashes.HashAlgorithm]]] = {
    f"{NS_XENC11}mgf1sha1": hashes.SHA1,
    f"{NS_XENC11}mgf1sha256": hashes.SHA256,
    f"{NS_XENC11}mgf1sha384": hashes.SHA384,
    f"{NS_XENC11}mgf1sha512": hashes.SHA512,
}
_RSA_OAEP_MGF1P: Final = f"{NS_XENC}rsa-oaep-mgf1p"
"""XML Encryption 5.4.1: OAEP whose mask generation function is always MGF1 with SHA-1."""
# Elements by which an EncryptedData would make libxmlsec1 read something outside the document.
_INDIRECTIONS: Final = frozenset(
    {_XENC_CIPHER_REFERENCE, _DS_RETRIEVAL_METHOD, _XENC_AGREEMENT_METHOD, _XENC11_DERIVED_KEY}
)

_KEY_CACHE_SIZE: Final = 64
_K = TypeVar("_K")


class _NoExternalResources(etree.Resolver):  # type: ignore[misc]
    """Answers every external DTD or entity load with nothing.

    lxml 6 with ``load_dtd=False`` and ``no_network=True`` still opens a local file named as a
    DOCTYPE's SYSTEM identifier. A DOCTYPE is refused after parsing anyway; this keeps the parser
    itself from touching the file system before that refusal.
    """

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        """Resolve to an empty document instead of reading ``system_url``."""
        return self.resolve_string("", context)


def _as_bytes(data: str | bytes | SamlBase) -> bytes:
    """A document as pysaml2 may pass it (an object, str or bytes), as UTF-8 bytes."""
    if isinstance(data, SamlBase):
        data = data.to_string()
    if isinstance(data, str):
        data = data.encode("utf-8")
    return bytes(data)


def _parse(data: str | bytes | SamlBase, error: type[XmlsecError], *, drop_comments: bool = False) -> etree._Element:
    """Parse a SAML document with a hardened parser, refusing any DOCTYPE.

    SAML never needs a DTD (saml-core and the bindings are schema-based), and a DOCTYPE is how XXE and
    entity expansion attacks start. ``collect_ids=False`` leaves the ID table empty, so the only IDs
    libxmlsec1 can resolve are the ones registered after the uniqueness check. ``drop_comments`` leaves
    comments and processing instructions out of the tree, joining the text around them (see
    `parse_received`).
    """
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        collect_ids=False,
        remove_comments=drop_comments,
        remove_pis=drop_comments,
    )
    parser.resolvers.add(_NoExternalResources())
    try:
        root = etree.fromstring(_as_bytes(data), parser)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise error("not well-formed XML") from exc
    if root.getroottree().docinfo.doctype:
        raise error("document with a DOCTYPE refused")
    return root


def _index_ids(root: etree._Element, error: type[XmlsecError]) -> None:
    """Refuse a document in which any ID value occurs twice, then register the IDs for libxmlsec1.

    XML and saml-core 1.3.4 require ID values to be unique. libxmlsec1 resolves a Reference to the
    first element registered under an ID, while pysaml2 consumes the element it found by structure; a
    second element with the same ID is how a wrapping attack makes the two differ.
    """
    seen: set[str] = set()
    for element in root.iter("*"):
        value = element.get("ID")
        if value is None:
            continue
        if value in seen:
            raise error("an ID value occurs more than once in the document")
        seen.add(value)
    xmlsec.tree.add_ids(root, ["ID"])


def _signature_of(root: etree._Element, node_name: str, node_id: str | None, error: type[XmlsecError]) -> Any:
    """The enveloped ds:Signature of the element ``node_id``, checked against saml-core 5.4.

    ``node_name`` is pysaml2's class name, ``<namespace>:<local name>`` (``saml2.class_name``). The element
    with that ID must have that name, carry exactly one ds:Signature as a direct child (5.4.1: enveloped),
    and its SignedInfo must hold exactly one Reference whose URI is ``#`` + its own ID (5.4.2).
    """
    if not node_id:
        raise error("no ID given for the signed element")
    namespace, _, local_name = node_name.rpartition(":")
    if not namespace or not local_name:
        raise error("signed element name is not <namespace>:<name>")
    _index_ids(root, error)
    element = next((e for e in root.iter("*") if e.get("ID") == node_id), None)
    if element is None:
        raise error("no element carries the signed ID")
    if element.tag != f"{{{namespace}}}{local_name}":
        raise error("the element with the signed ID is not the expected element")
    return _enveloped_signature(element, error)


def _enveloped_signature(element: etree._Element, error: type[XmlsecError]) -> Any:
    """``element``'s single ds:Signature child (5.4.1), with one Reference to its own ID (5.4.2).

    The document's IDs must have been checked and registered (`_index_ids`), so that the Reference can
    only resolve to ``element``.
    """
    node_id = element.get("ID")
    if not node_id:
        raise error("the signed element has no ID")
    signatures = element.findall(_DS_SIGNATURE)
    if len(signatures) != 1:
        raise error("the signed element must have exactly one ds:Signature child")
    signature = signatures[0]
    references = signature.findall(f"{_DS_SIGNED_INFO}/{_DS_REFERENCE}")
    if len(references) != 1 or references[0].get("URI") != f"#{node_id}":
        raise error("the signature must have one Reference to the signed element's own ID")
    return signature


def _signature_context(key: xmlsec.Key) -> xmlsec.SignatureContext:
    """A SignatureContext with ``key`` and only the profile's algorithms enabled, for signing and verifying."""
    context = xmlsec.SignatureContext()
    context.key = key
    for transform in _REFERENCE_TRANSFORMS:
        context.enable_reference_transform(transform)
    for transform in _SIGNATURE_TRANSFORMS:
        context.enable_signature_transform(transform)
    return context


def _encryption_method(element: etree._Element) -> etree._Element | None:
    """``element``'s xenc:EncryptionMethod child, or None unless there is exactly one."""
    methods = element.findall(_XENC_ENCRYPTION_METHOD)
    return methods[0] if len(methods) == 1 else None


def _check_encrypted_data(encrypted_data: etree._Element) -> None:
    """Refuse an EncryptedData outside the profile before libxmlsec1 sees it.

    Shape: Type Element (saml-core 6.1), one EncryptedKey inline in its ds:KeyInfo and no other,
    nothing that points outside the document. Algorithms: Deployment Profile 8.3 for the data, 8.4 for
    the key, with the OAEP digest and mask generation function from 8.1 or SHA-1.
    """
    if encrypted_data.get("Type") != ENC_TYPE_ELEMENT:
        raise DecryptError("EncryptedData must have Type Element")
    if any(element.tag in _INDIRECTIONS for element in encrypted_data.iter("*")):
        raise DecryptError("EncryptedData refers outside the document")
    data_method = _encryption_method(encrypted_data)
    if data_method is None or data_method.get("Algorithm") not in BLOCK_ENCRYPTION_ALGORITHMS:
        raise DecryptError("block encryption algorithm not allowed")
    encrypted_keys = list(encrypted_data.iter(_XENC_ENCRYPTED_KEY))
    if len(encrypted_keys) != 1 or encrypted_keys[0].getparent() is not encrypted_data.find(_DS_KEY_INFO):
        raise DecryptError("EncryptedData must carry exactly one EncryptedKey in its KeyInfo")
    encrypted_key = encrypted_keys[0]
    key_method = _encryption_method(encrypted_key)
    if key_method is None or key_method.get("Algorithm") not in KEY_TRANSPORT_ALGORITHMS:
        raise DecryptError("key transport algorithm not allowed")
    for parameter in key_method.iterchildren("*"):
        algorithm = parameter.get("Algorithm")
        if parameter.tag == _DS_DIGEST_METHOD and algorithm in _OAEP_DIGESTS:
            continue
        if parameter.tag == _XENC11_MGF and algorithm in _OAEP_MGFS:
            continue
        if parameter.tag == _XENC_OAEP_PARAMS:
            continue
        raise DecryptError("key transport parameter not allowed")


def _first_encrypted_data(root: etree._Element) -> etree._Element:
    """The first xenc:EncryptedData in document order, as the xmlsec1 binary picks it.

    pysaml2 calls ``decrypt`` again while encrypted data remains, so one per call is enough. Only the
    content of a SAML encrypted element (or a bare EncryptedData, as pysaml2 passes for EncryptedID) is
    decrypted.
    """
    encrypted_data = next(root.iter(_XENC_ENCRYPTED_DATA), None)
    if encrypted_data is None:
        raise DecryptError("no EncryptedData in the document")
    parent = encrypted_data.getparent()
    if parent is not None and parent.tag not in _ENCRYPTED_ELEMENT_PARENTS:
        raise DecryptError("EncryptedData is not inside a SAML encrypted element")
    return encrypted_data


def _serialize(root: etree._Element) -> str:
    """The whole document as str, as pysaml2 expects from every backend method."""
    return str(etree.tostring(root, encoding="unicode"))


def _new_id() -> str:
    """A fresh xs:ID for EncryptedData and EncryptedKey (an NCName: it must not start with a digit)."""
    return f"_{secrets.token_hex(16)}"


_PUBLIC_KEY_OF_CERT_PEM: Final = -1
"""A `_KeyCache` format of our own: a PEM certificate, loaded as its public key alone."""


def _public_key_pem(cert_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo of a PEM certificate, as PEM; ValueError if it is not a certificate."""
    public_key = x509.load_pem_x509_certificate(cert_pem).public_key()
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class _LoadedKeys:
    """Keys loaded from files, by the sha256 of the file's bytes and what they were loaded as.

    A file is read each time (a rollover may have moved a key between stage files, and pysaml2 writes
    every metadata certificate to a fresh temp file per verification), but parsed once per content: the
    name says nothing about the key, the content does. Keys are immutable once loaded, so concurrent
    readers are safe; the lock only guards insertion.
    """

    def __init__(self, max_entries: int = _KEY_CACHE_SIZE) -> None:
        self._keys: dict[tuple[str, int], Any] = {}
        self._lock = threading.Lock()
        self._max_entries = max_entries

    def get(
        self, path: str, kind: int, load: Callable[[bytes], _K], error: type[XmlsecError]
    ) -> tuple[tuple[str, int], _K]:
        """(cache key, ``load(the file's bytes)``) for the file at ``path``, loaded at most once per content."""
        try:
            with open(path, "rb") as file:
                data = file.read()
        except (OSError, TypeError) as exc:
            raise error("key file cannot be read") from exc
        cache_key = (hashlib.sha256(data).hexdigest(), kind)
        key = self._keys.get(cache_key)
        if key is None:
            key = load(data)
            with self._lock:
                if len(self._keys) >= self._max_entries:
                    self._keys.pop(next(iter(self._keys)))
                self._keys[cache_key] = key
        return cache_key, key


class _KeyCache:
    """python-xmlsec keys and keys managers for key files, loaded once per content (see `_LoadedKeys`).

    python-xmlsec copies a key into each context, so one loaded key serves every operation.
    """

    def __init__(self, max_entries: int = _KEY_CACHE_SIZE) -> None:
        self._files = _LoadedKeys(max_entries)
        self._max_entries = max_entries
        self._local = os_thread_local()

    def load(self, path: str, key_format: int, error: type[XmlsecError]) -> xmlsec.Key:
        """The key in the file at ``path``, loaded at most once per content."""
        return self._entry(path, key_format, error)[1]

    def verification_key(self, path: str, error: type[XmlsecError]) -> xmlsec.Key:
        """The public key of the PEM certificate at ``path``, without the certificate, once per content.

        The certificate is only the carrier of a pinned key (trusted metadata names the key; nothing
        about the certificate is checked), and a key without it is what makes a signature context
        cheap: libxmlsec1 copies the key into every context, about 50 µs for a certificate key and
        under 1 µs for a bare RSA key.
        """
        return self._entry(path, _PUBLIC_KEY_OF_CERT_PEM, error)[1]

    def manager(self, path: str, key_format: int, error: type[XmlsecError]) -> xmlsec.KeysManager:
        """A KeysManager holding only the key in the file at ``path``, made once per key and thread.

        Creating a KeysManager costs several milliseconds (libxmlsec1 sets up its X.509 store), many
        times the RSA operation it serves. python-xmlsec releases the GIL while it encrypts or decrypts
        and libxmlsec1 does not promise that a manager may be used by two threads at once, so each OS
        thread keeps its own (greenlets share it: see `gateway.os_thread`); nothing is ever added to a
        manager after it is made.
        """
        cache_key, key = self._entry(path, key_format, error)
        managers: dict[tuple[str, int], xmlsec.KeysManager] | None = getattr(self._local, "managers", None)
        if managers is None:
            managers = self._local.managers = {}
        manager = managers.get(cache_key)
        if manager is None:
            if len(managers) >= self._max_entries:
                managers.pop(next(iter(managers)))
            manager = managers[cache_key] = xmlsec.KeysManager()
            manager.add_key(key)
        return manager

    def _entry(self, path: str, key_format: int, error: type[XmlsecError]) -> tuple[tuple[str, int], xmlsec.Key]:
        def load(data: bytes) -> xmlsec.Key:
            try:
                if key_format == _PUBLIC_KEY_OF_CERT_PEM:
                    return xmlsec.Key.from_memory(_public_key_pem(data), xmlsec.constants.KeyDataFormatPem)
                return xmlsec.Key.from_memory(data, key_format)
            except (xmlsec.Error, ValueError) as exc:
                raise error("key file does not hold a usable key") from exc

        return self._files.get(path, key_format, load, error)


class PythonXmlsecBackend(saml2.sigver.CryptoBackend):  # type: ignore[misc]
    """pysaml2 CryptoBackend on python-xmlsec; see the module docstring for what it refuses."""

    def __init__(self) -> None:
        super().__init__()
        self._keys = _KeyCache()

    @property
    def version(self) -> str:
        """python-xmlsec's version; pysaml2 only parses it into ``version_nums``."""
        return importlib.metadata.version("xmlsec")

    def validate_signature(
        self,
        signedtext: str | bytes,
        cert_file: str,
        cert_type: str,
        node_name: str,
        node_id: str | None,
    ) -> bool:
        """Verify the enveloped signature of element ``node_id`` with the certificate in ``cert_file`` only.

        pysaml2 (``SecurityContext._check_signature``) passes the whole received document, a temp file
        holding one PEM certificate from the issuer's metadata, ``"pem"``, the class name of the element
        it consumes and that element's ID, and tries each metadata certificate in turn. Returns True or
        raises ``SignatureError``.
        """
        if cert_type != "pem":
            raise SignatureError("only PEM certificates are supported")
        key = self._keys.verification_key(cert_file, SignatureError)
        root = _parse(signedtext, SignatureError)
        signature = _signature_of(root, node_name, node_id, SignatureError)
        try:
            _signature_context(key).verify(signature)
        except xmlsec.Error as exc:
            raise SignatureError("signature does not verify with the trusted key and allowed algorithms") from exc
        return True

    def sign_statement(
        self,
        statement: str | bytes | SamlBase,
        node_name: str,
        key_file: str,
        node_id: str | None,
    ) -> str:
        """Fill in the signature template of element ``node_id`` with the private key in ``key_file``.

        pysaml2 (``signed_instance_factory`` via ``SecurityContext.sign_statement``) passes the document
        as str with a ``pre_signature_part`` template already placed in the element, the element's class
        name, its own key file and the ID. The same structure and algorithm rules as for verification
        apply, so a template asking for SHA-1 (pysaml2's default) is refused rather than signed.
        """
        key = self._keys.load(key_file, xmlsec.constants.KeyDataFormatPem, SignatureError)
        root = _parse(statement, SignatureError)
        signature = _signature_of(root, node_name, node_id, SignatureError)
        try:
            _signature_context(key).sign(signature)
        except xmlsec.Error as exc:
            raise SignatureError("signing failed: key or algorithm not allowed") from exc
        return _serialize(root)

    def decrypt(self, enctext: str | bytes | SamlBase, key_file: str) -> str:
        """Decrypt the first EncryptedData in the document with the private key in ``key_file``.

        pysaml2 (``SecurityContext.decrypt``, from ``AuthnResponse.parse_assertion``) passes its own
        serialization of the Response, and for an EncryptedID a bare EncryptedData; it calls once per
        configured key and expects the whole document back with the EncryptedData replaced by the
        plaintext element, raising an ``XmlsecError`` to try the next key.
        """
        manager = self._keys.manager(key_file, xmlsec.constants.KeyDataFormatPem, DecryptError)
        root = _parse(enctext, DecryptError)
        encrypted_data = _first_encrypted_data(root)
        _check_encrypted_data(encrypted_data)
        try:
            decrypted = xmlsec.EncryptionContext(manager).decrypt(encrypted_data)
        except xmlsec.Error as exc:
            raise DecryptError("decryption failed with this key") from exc
        if not isinstance(decrypted, etree._Element):
            raise DecryptError("EncryptedData did not hold an XML element")
        return _serialize(decrypted.getroottree().getroot())

    def encrypt_assertion(
        self,
        statement: str | bytes | SamlBase,
        enc_key: str,
        template: Any,
        key_type: str = "des-192",
        node_xpath: str | None = None,
        node_id: str | None = None,
    ) -> str:
        """Encrypt the assertion in ``statement`` for the holder of the certificate in ``enc_key``.

        pysaml2 (``Entity._encrypt_assertion``) passes the Response as str with the Assertion already
        moved into an EncryptedAssertion (``pre_encrypt_assertion``), a temp file with the recipient's PEM
        certificate, and a ``pre_encryption_part`` template and session key type that both say 3DES.
        Those two are ignored: the assertion is encrypted with AES-256-GCM and the key transported with
        RSA-OAEP-MGF1P and its default SHA-1 digest (Deployment Profile 8.3, 8.4), the recipient's
        certificate in the EncryptedKey's KeyInfo. Used by the development sandbox IdP only.
        """
        del template, key_type  # 3DES, which Deployment Profile section 8 does not allow
        manager = self._keys.manager(enc_key, xmlsec.constants.KeyDataFormatCertPem, EncryptError)
        if isinstance(statement, SamlBase) and statement.assertion:
            statement = pre_encrypt_assertion(statement)
        root = _parse(statement, EncryptError)
        if node_id:
            found: Any = [e for e in root.iter("*") if e.get("ID") == node_id]
        else:
            found = root.getroottree().xpath(node_xpath or ASSERT_XPATH)
        targets = [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []
        if len(targets) != 1:
            raise EncryptError("exactly one element to encrypt must be found")
        target = targets[0]
        # libxmlsec1 serializes the node without the namespace declarations it inherits; encrypting a
        # standalone copy makes the plaintext a complete document fragment for any recipient.
        standalone = _parse(etree.tostring(target), EncryptError)
        encrypted_data = xmlsec.template.encrypted_data_create(
            standalone,
            xmlsec.constants.TransformAes256Gcm,
            id=_new_id(),
            type=xmlsec.constants.TypeEncElement,
            ns="xenc",
        )
        xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_data)
        key_info = xmlsec.template.encrypted_data_ensure_key_info(encrypted_data, ns="ds")
        encrypted_key = xmlsec.template.add_encrypted_key(key_info, xmlsec.constants.TransformRsaOaep, id=_new_id())
        xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
        recipient_info = xmlsec.template.encrypted_data_ensure_key_info(encrypted_key)
        xmlsec.template.x509_data_add_certificate(xmlsec.template.add_x509_data(recipient_info))
        context = xmlsec.EncryptionContext(manager)
        try:
            context.key = xmlsec.Key.generate(xmlsec.constants.KeyDataAes, 256, xmlsec.constants.KeyDataTypeSession)
            encrypted = context.encrypt_xml(encrypted_data, standalone)
        except xmlsec.Error as exc:
            raise EncryptError("encryption failed") from exc
        parent = target.getparent()
        if parent is None:
            return _serialize(encrypted)
        parent.replace(target, encrypted)
        return _serialize(root)


_SHARED_BACKEND: Final = PythonXmlsecBackend()


def use_python_xmlsec(entity: saml2.entity.Entity) -> None:
    """Make ``entity`` (an SP, or the sandbox IdP) sign, verify, encrypt and decrypt with this module.

    The entity must have been built with ``crypto_backend: "XMLSecurity"``, which keeps pysaml2 from
    looking for the xmlsec1 binary; that backend (pyXMLSecurity) is replaced here before any use and must
    never run. pysaml2 then has no key for HTTP-Redirect query signatures (saml-bindings 3.4.4.1), so the
    entity's own RSA key is set for them. Keys for verification must come from metadata only.
    """
    security = entity.sec
    if not isinstance(security.crypto, saml2.sigver.CryptoBackendXMLSecurity | PythonXmlsecBackend):
        raise ValueError('the entity must be configured with crypto_backend "XMLSecurity"')
    if security.only_use_keys_in_metadata is not True:
        raise ValueError("only_use_keys_in_metadata must be True: keys in a message are never trusted")
    key_file = entity.config.key_file
    if not key_file:
        raise ValueError("the entity has no key_file to sign with")
    security.crypto = _SHARED_BACKEND
    security.sec_backend = RSACrypto(import_rsa_key_from_file(key_file))


_RSA_PRIVATE_KEY: Final = -2
"""A `_LoadedKeys` kind of our own: a PEM RSA private key loaded with cryptography."""


def _rsa_private_key(data: bytes) -> rsa.RSAPrivateKey:
    """The RSA private key in PEM ``data``, loaded with cryptography.

    Loaded once per content (`_LoadedKeys`), it keeps its precomputed Montgomery and blinding values,
    which is what makes the RSA-OAEP unwrap cheaper here than in libxmlsec1, which copies its key out
    of a keys manager for every decryption.
    """
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise DecryptError("key file does not hold a usable key") from exc
    if not isinstance(key, rsa.RSAPrivateKey):
        raise DecryptError("key transport needs an RSA key")
    return key


_DECRYPTION_KEYS: Final = _LoadedKeys()


def parse_received(data: bytes) -> etree._Element:
    """Parse a received SAML message with the hardened parser, leaving out comments and processing instructions.

    Exclusive canonicalization leaves comments out of what a signature covers (and a same-document
    Reference excludes them, XML Signature 4.3.3.3), so a comment can be put into a signed message
    without breaking its signature. Read with it in place, ``<AttributeValue>1992<!---->03100000``
    would read as "1992" (the CVE-2017-11427 class); without them every text reads whole, as signed.
    """
    return _parse(data, SignatureError, drop_comments=True)


def public_key(cert_pem: bytes) -> xmlsec.Key:
    """The public key of a trusted PEM certificate, to verify with; SignatureError if it holds none.

    The certificate only carries a key pinned by trusted metadata (nothing else about it is checked), and
    a bare key is what makes a signature context cheap (see `_KeyCache.verification_key`).
    """
    try:
        return xmlsec.Key.from_memory(_public_key_pem(cert_pem), xmlsec.constants.KeyDataFormatPem)
    except (xmlsec.Error, ValueError) as exc:
        raise SignatureError("the trusted certificate does not hold a usable key") from exc


def verify_enveloped(root: etree._Element, element: etree._Element, keys: Sequence[xmlsec.Key]) -> None:
    """Verify ``element``'s enveloped signature with one of ``keys``, or raise SignatureError.

    ``root`` is the whole document ``element`` belongs to: no ID value may occur twice in it, so the
    signature's one Reference (to ``element``'s own ID, saml-core 5.4.2) can resolve to ``element``
    alone. ``keys`` are the signer's from trusted metadata, never from the message (a rollover may
    list two); only the profile's algorithms are accepted.
    """
    _index_ids(root, SignatureError)
    signature = _enveloped_signature(element, SignatureError)
    for key in keys:
        try:
            _signature_context(key).verify(signature)
        except xmlsec.Error:
            continue
        return
    raise SignatureError("signature does not verify with a trusted key and allowed algorithms")


def _oaep(method: etree._Element) -> padding.OAEP:
    """The OAEP parameters of a key transport EncryptionMethod that `_check_encrypted_data` accepted.

    XML Encryption 1.1 section 5.5.2: the digest is ds:DigestMethod's (SHA-1 when absent); the mask
    generation function is MGF1 with SHA-1 for rsa-oaep-mgf1p, and xenc11:MGF's (MGF1 with SHA-1
    when absent) for rsa-oaep; xenc:OAEPparams, when present, is the base64 of the label.
    """
    digest_element = method.find(_DS_DIGEST_METHOD)
    digest = _OAEP_DIGESTS[digest_element.get("Algorithm", "")] if digest_element is not None else hashes.SHA1
    mgf_element = method.find(_XENC11_MGF)
    if method.get("Algorithm") == _RSA_OAEP_MGF1P or mgf_element is None:
        mgf_digest: type[hashes.HashAlgorithm] = hashes.SHA1
    else:
        mgf_digest = _OAEP_MGFS[mgf_element.get("Algorithm", "")]
    label_text = method.findtext(_XENC_OAEP_PARAMS)
    try:
        label = base64.b64decode("".join(label_text.split()), validate=True) if label_text else None
    except binascii.Error as exc:
        raise DecryptError("OAEPparams is not base64") from exc
    return padding.OAEP(mgf=padding.MGF1(mgf_digest()), algorithm=digest(), label=label or None)


def _cipher_value(element: etree._Element) -> bytes:
    """The bytes of ``element``'s xenc:CipherData/xenc:CipherValue (XML Encryption 3.3)."""
    text = element.findtext(f"{_XENC_CIPHER_DATA}/{_XENC_CIPHER_VALUE}")
    if not text:
        raise DecryptError("no CipherValue")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except binascii.Error as exc:
        raise DecryptError("CipherValue is not base64") from exc


def decrypt_in_place(encrypted_data: etree._Element, key_files: Sequence[str]) -> etree._Element:
    """Decrypt ``encrypted_data`` with the first key in ``key_files`` that opens it; return the plaintext element.

    The EncryptedData must be the content of a SAML encrypted element and within the profile
    (`_check_encrypted_data`). The session key in its EncryptedKey is unwrapped with cryptography's
    RSA-OAEP, then libxmlsec1 decrypts the data with that key, given to it directly so that it looks up
    no other; the plaintext element takes the EncryptedData's place in its document (saml-core 6.1). A
    key file that is missing (a rollover stage not in use) or holds another key is passed over;
    DecryptError when none opens it.
    """
    parent = encrypted_data.getparent()
    if parent is None or parent.tag not in _ENCRYPTED_ELEMENT_PARENTS:
        raise DecryptError("EncryptedData is not inside a SAML encrypted element")
    _check_encrypted_data(encrypted_data)
    encrypted_key = next(encrypted_data.iter(_XENC_ENCRYPTED_KEY))
    key_method = _encryption_method(encrypted_key)
    data_method = _encryption_method(encrypted_data)
    if key_method is None or data_method is None:  # _check_encrypted_data made sure of both
        raise DecryptError("EncryptionMethod missing")
    oaep = _oaep(key_method)
    wrapped = _cipher_value(encrypted_key)
    for key_file in key_files:
        try:
            _, private_key = _DECRYPTION_KEYS.get(key_file, _RSA_PRIVATE_KEY, _rsa_private_key, DecryptError)
            session_key = private_key.decrypt(wrapped, oaep)
        except (DecryptError, ValueError):
            continue
        if len(session_key) != BLOCK_ENCRYPTION_ALGORITHMS[data_method.get("Algorithm", "")]:
            raise DecryptError("the session key does not fit the block encryption algorithm")
        context = xmlsec.EncryptionContext()
        try:
            context.key = xmlsec.Key.from_binary_data(xmlsec.constants.KeyDataAes, session_key)
            decrypted = context.decrypt(encrypted_data)
        except xmlsec.Error as exc:
            raise DecryptError("the EncryptedData does not decrypt with its session key") from exc
        if not isinstance(decrypted, etree._Element):
            raise DecryptError("EncryptedData did not hold an XML element")
        return decrypted
    raise DecryptError("no decryption key opens the EncryptedData")


def verify_root_signature(data: bytes, cert_pem: bytes, root_names: frozenset[str]) -> etree._Element:
    """Verify that ``data`` is signed as a whole with the key in ``cert_pem``; return the verified root.

    For documents trusted as a whole, such as a federation's metadata aggregate (saml-metadata 3,
    which applies saml-core 5.4; Deployment Profile 2: the signature MUST verify before use). The
    same hardened parser, ID uniqueness check and algorithm allow-lists as for messages apply; the
    key is only the pinned certificate's, never one from ``ds:KeyInfo``. The root element must be
    one of ``root_names`` (Clark notation) and carry exactly one enveloped ``ds:Signature`` child
    whose single Reference names the root: ``#`` + its ID, or ``""`` (the whole document). Every
    element of the returned tree is then covered by the verified signature.
    """
    key = public_key(cert_pem)
    root = _parse(data, SignatureError)
    if root.tag not in root_names:
        raise SignatureError("unexpected document element")
    _index_ids(root, SignatureError)
    signatures = root.findall(_DS_SIGNATURE)
    if len(signatures) != 1:
        raise SignatureError("the document element must have exactly one ds:Signature child")
    references = signatures[0].findall(f"{_DS_SIGNED_INFO}/{_DS_REFERENCE}")
    root_id = root.get("ID")
    allowed = {""} | ({f"#{root_id}"} if root_id else set())
    if len(references) != 1 or references[0].get("URI") not in allowed:
        raise SignatureError("the signature must have one Reference to the document element")
    try:
        _signature_context(key).verify(signatures[0])
    except xmlsec.Error as exc:
        raise SignatureError("signature does not verify with the pinned key and allowed algorithms") from exc
    return root


def parse_untrusted(data: bytes) -> etree._Element:
    """Parse a document that is not signed with the hardened parser (no DOCTYPE, nothing loaded from outside).

    For the one case where unsigned XML is read on purpose: a development-only metadata file.
    """
    return _parse(data, SignatureError)
