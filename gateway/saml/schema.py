"""SAML schema validation with libxml2 (through lxml), compiled once.

Every received Response, and the assertion decrypted out of it, must conform to the SAML 2.0 schemas
before anything in it is read (`gateway.saml.response_document`): a schema-invalid document is how a
signature check and a reader have been made to see different elements (CVE-2021-21238, fixed in
pysaml2 by the same check). The schemas are the ones pysaml2 ships, for the namespaces its own
validator (``saml2.xml.schema``, on the ``xmlschema`` package) knows; libxml2 validates a response
in tens of microseconds where ``xmlschema`` walked the document in Python for about 2.5 ms.

The schema files are trusted package data; their imports name W3C URLs, which are mapped to the
local copies by file name. Nothing is ever fetched: an import with no local file is an error at
start-up, not a network request.
"""

from __future__ import annotations

import os
from importlib.resources import files
from typing import Any
from typing import Final

import saml2.data.schemas
from lxml import etree
from saml2.xml.schema import XMLSchemaError

from gateway.os_thread import os_thread_local
from gateway.saml.namespaces import NS_DS
from gateway.saml.namespaces import NS_SAML
from gateway.saml.namespaces import NS_SAMLP
from gateway.saml.namespaces import NS_XENC
from gateway.saml.namespaces import NS_XENC11
from gateway.saml.namespaces import NS_XML

# The namespaces pysaml2's own validator knows (saml2.xml.schema), minus SOAP and SAML metadata, which
# never occur in a Response, and with the same local files. Elements of any other namespace are where
# the SAML schemas allow them (lax wildcards: extensions, attribute values) and are not validated further.
SCHEMA_FILES: Final = {
    NS_XML: "xml.xsd",
    NS_DS: "xmldsig-core-schema.xsd",
    NS_XENC: "xenc-schema.xsd",
    NS_XENC11: "xenc-schema-11.xsd",
    NS_SAML: "saml-schema-assertion-2.0.xsd",
    NS_SAMLP: "saml-schema-protocol-2.0.xsd",
    "http://eidas.europa.eu/saml-extensions": "eidas-schema-saml-extensions.xsd",
    "http://eidas.europa.eu/attributes/naturalperson": "eidas-schema-attribute-naturalperson.xsd",
    "http://eidas.europa.eu/attributes/legalperson": "eidas-schema-attribute-legalperson.xsd",
}
_SCHEMA_DIR: Final = str(files(saml2.data.schemas))
_XSD: Final = "http://www.w3.org/2001/XMLSchema"


class _LocalSchemaFiles(etree.Resolver):  # type: ignore[misc]
    """Resolves schema imports to pysaml2's local schema files by file name; refuses anything else."""

    def resolve(self, system_url: str, public_id: str, context: Any) -> Any:
        """Map ``.../name.xsd`` to the packaged file; answer DTD references with nothing."""
        name = os.path.basename(system_url or "")
        if name.endswith(".dtd"):
            return self.resolve_string("", context)
        path = os.path.join(_SCHEMA_DIR, name)
        if name.endswith(".xsd") and os.path.isfile(path):
            return self.resolve_filename(path, context)
        raise ValueError(f"schema import with no local file: {system_url}")


def _compile() -> etree.XMLSchema:
    imports = "".join(
        f'<xs:import namespace="{namespace}" schemaLocation="{os.path.join(_SCHEMA_DIR, name)}"/>'
        for namespace, name in SCHEMA_FILES.items()
    )
    driver = f'<xs:schema xmlns:xs="{_XSD}" targetNamespace="urn:x-eid-gateway:schema-driver">{imports}</xs:schema>'
    # The schema files are package data with internal DTD subsets defining entities; they are trusted.
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities=True)
    parser.resolvers.add(_LocalSchemaFiles())
    return etree.XMLSchema(etree.fromstring(driver.encode("ascii"), parser))


_PER_THREAD: Final = os_thread_local()


def saml_schema() -> etree.XMLSchema:
    """The SAML protocol schema and everything it may contain, compiled once per thread.

    One per OS thread because a compiled schema keeps the error log of its last validation; compiling
    takes a few milliseconds and happens once in each of a worker's OS threads (greenlets share it:
    see `gateway.os_thread`).
    """
    schema: etree.XMLSchema | None = getattr(_PER_THREAD, "schema", None)
    if schema is None:
        schema = _PER_THREAD.schema = _compile()
    return schema


_DOCUMENT_PARSER: Final = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, collect_ids=False
)


def conformance_error(element: etree._Element) -> str | None:
    """None when ``element`` (a whole document, or one element as if it were one) conforms to the SAML
    schemas; otherwise the first violation, named by line and rule, never by document content."""
    schema = saml_schema()
    if schema.validate(element):
        return None
    first = schema.error_log.last_error
    return f"line {first.line}: {first.type_name}" if first is not None else "unknown"


def validate(document: str | bytes) -> None:
    """Parse and validate one SAML document; raise pysaml2's `XMLSchemaError` if it does not conform.

    The same contract as ``saml2.xml.schema.validate`` (which tests/unit/saml/test_schema.py compares it
    with), for documents the gateway has as text, such as its own AuthnRequest in the tests.
    """
    data = document.encode("utf-8") if isinstance(document, str) else document
    try:
        root = etree.fromstring(data, _DOCUMENT_PARSER)
    except etree.XMLSyntaxError as exc:
        raise XMLSchemaError({"error": "not well-formed XML"}) from exc
    if root.getroottree().docinfo.doctype:
        raise XMLSchemaError({"error": "document with a DOCTYPE"})
    violation = conformance_error(root)
    if violation is not None:
        raise XMLSchemaError({"error": f"does not conform to the SAML schemas ({violation})"})
