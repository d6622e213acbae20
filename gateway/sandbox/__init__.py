"""The development sandbox: a built-in test e-ID provider and a demo e-service, as one unit to mount.

`create_app` builds a :class:`Sandbox` only when the settings ask for it (``environment:
development``; production refuses it), adds its provider and client to the registries, its IdP's
metadata to what the SP trusts, and calls :meth:`Sandbox.attach` once the SP exists. Nothing else in
the gateway imports this package, so production code paths never load it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from flask import Flask

from gateway.mapping.loa import LOA3
from gateway.sandbox import demo_rp
from gateway.sandbox import views
from gateway.sandbox.demo_rp import DemoRP
from gateway.sandbox.demo_rp import demo_client
from gateway.sandbox.idp import SandboxIdP
from gateway.settings.schema import ClientSettings
from gateway.settings.schema import ProviderSettings
from gateway.trust.keystore import derive
from gateway.trust.keystore import ensure_key_pair

KEY_NAME: Final = "sandbox-idp"
PROVIDER_ID: Final = "sandbox"
LOGO: Final = Path(__file__).with_name("sandbox-idp.svg")


@dataclass(frozen=True, slots=True)
class Sandbox:
    """The sandbox's parts: the IdP, its provider entry, the demo client and the demo e-service."""

    idp: SandboxIdP
    provider: ProviderSettings
    client: ClientSettings
    demo: DemoRP

    @classmethod
    def build(cls, base_url: str, keys_dir: Path, secret: bytes) -> Sandbox:
        """Build everything once at start; ``secret`` is the gateway's, from which the sandbox derives its own."""
        key_path, cert_path = ensure_key_pair(keys_dir, KEY_NAME)
        idp = SandboxIdP(base_url=base_url, key_path=key_path, cert_path=cert_path, loas=(LOA3,))
        provider = ProviderSettings(
            id=PROVIDER_ID,
            entity_id=idp.entity_id,
            display_name={"sv": "Test-e-legitimation (sandlåda)", "en": "Test e-ID (sandbox)"},
            description={
                "sv": "Logga in som en testperson. Bara för utveckling och test.",
                "en": "Log in as a test person. For development and testing only.",
            },
            logo=LOGO,
            loas=(LOA3,),
            attribute_set="pnr-01",
        )
        client = demo_client(base_url, derive(secret, "sandbox demo client").hex())
        demo = DemoRP(base_url=base_url, client=client, cookie_key=derive(secret, "sandbox demo cookie"))
        return cls(idp=idp, provider=provider, client=client, demo=demo)

    def attach(self, app: Flask, sp_metadata_xml: str) -> None:
        """Trust the gateway's SP and mount the sandbox IdP and demo e-service routes on ``app``."""
        self.idp.trust_sp(sp_metadata_xml)
        app.register_blueprint(views.blueprint)
        app.register_blueprint(demo_rp.blueprint)
