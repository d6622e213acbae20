"""What the backend reuses between calls: KeysManagers, per key and thread.

They exist for speed (bench/README.md): a KeysManager costs several milliseconds to make. Reuse may
not change a result: a manager holds only its own key.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import xmlsec
from saml2.sigver import ASSERT_XPATH
from saml2.sigver import DecryptError

from gateway.saml.xmlsec_backend import PythonXmlsecBackend
from gateway.trust.certs import generate_key_pair

NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"


def _response(assertion_id: str) -> str:
    return (
        f'<samlp:Response xmlns:samlp="{NS_SAMLP}" xmlns:saml="{NS_SAML}" ID="_response" Version="2.0">'
        f'<saml:EncryptedAssertion><saml:Assertion ID="{assertion_id}" Version="2.0">'
        "<saml:Issuer>https://idp.example.org/idp</saml:Issuer></saml:Assertion></saml:EncryptedAssertion>"
        "</samlp:Response>"
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The SP's key and certificate, and another key that must not decrypt."""
    directory = tmp_path_factory.mktemp("reuse")
    paths = {}
    for name in ("sp", "other"):
        pair = generate_key_pair(name)
        paths[f"{name}_key"] = directory / f"{name}.key"
        paths[f"{name}_cert"] = directory / f"{name}.crt"
        paths[f"{name}_key"].write_bytes(pair.key_pem)
        paths[f"{name}_cert"].write_bytes(pair.cert_pem)
    return paths


@pytest.fixture(scope="module")
def encrypted(files: dict[str, Path]) -> Callable[[str], str]:
    """A Response whose assertion ``assertion_id`` is encrypted to the SP's certificate."""
    backend = PythonXmlsecBackend()

    def make(assertion_id: str) -> str:
        return backend.encrypt_assertion(_response(assertion_id), str(files["sp_cert"]), None, node_xpath=ASSERT_XPATH)

    return make


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Count what ``xmlsec.<name>(...)`` makes, still making the real thing."""
    made: list[Any] = []
    real = getattr(xmlsec, name)

    def factory(*args: Any) -> Any:
        made.append(real(*args))
        return made[-1]

    monkeypatch.setattr(xmlsec, name, factory)
    return made


def test_a_keys_manager_is_made_once_per_key_and_thread(
    files: dict[str, Path], encrypted: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = PythonXmlsecBackend()
    document = encrypted("_a1")
    managers = _counting(monkeypatch, "KeysManager")

    backend.decrypt(document, str(files["sp_key"]))
    backend.decrypt(document, str(files["sp_key"]))
    assert len(managers) == 1
    thread = threading.Thread(target=backend.decrypt, args=(document, str(files["sp_key"])))
    thread.start()
    thread.join()
    assert len(managers) == 2
    with pytest.raises(DecryptError):
        backend.decrypt(document, str(files["other_key"]))
    assert len(managers) == 3
