"""LoA URIs, "at least" ordering, exact matching and the relay policy (swedish-eid.md 2, 5.7)."""

from __future__ import annotations

import pytest

from gateway.mapping import loa

# swedish-eid.md section 2 table, written out in full (REG 3.1.1).
ELN = "http://id.elegnamnden.se/loa/1.0/"
SC = "http://id.swedenconnect.se/loa/1.0/"
SPEC_URIS = {
    "LOA1": ELN + "loa1",
    "LOA2": ELN + "loa2",
    "LOA3": ELN + "loa3",
    "LOA4": ELN + "loa4",
    "LOA2_NONRESIDENT": SC + "loa2-nonresident",
    "LOA3_NONRESIDENT": SC + "loa3-nonresident",
    "LOA4_NONRESIDENT": SC + "loa4-nonresident",
    "UNCERTIFIED_LOA2": SC + "uncertified-loa2",
    "UNCERTIFIED_LOA3": SC + "uncertified-loa3",
    "EIDAS_LOW": ELN + "eidas-low",
    "EIDAS_SUB": ELN + "eidas-sub",
    "EIDAS_HIGH": ELN + "eidas-high",
    "EIDAS_NF_LOW": ELN + "eidas-nf-low",
    "EIDAS_NF_SUB": ELN + "eidas-nf-sub",
    "EIDAS_NF_HIGH": ELN + "eidas-nf-high",
    "UNCERTIFIED_EIDAS_LOW": SC + "uncertified-eidas-low",
    "UNCERTIFIED_EIDAS_SUB": SC + "uncertified-eidas-sub",
    "UNCERTIFIED_EIDAS_HIGH": SC + "uncertified-eidas-high",
}


@pytest.mark.parametrize(("constant", "uri"), SPEC_URIS.items())
def test_constant_is_the_registry_uri(constant: str, uri: str) -> None:
    assert getattr(loa, constant) == uri


def test_every_spec_uri_belongs_to_exactly_one_family() -> None:
    assert sorted(loa.ALL_LOAS) == sorted(SPEC_URIS.values())
    assert len(set(loa.ALL_LOAS)) == len(loa.ALL_LOAS)


@pytest.mark.parametrize(
    ("minimum", "expected"),
    [
        ("LOA2", ("LOA2", "LOA3", "LOA4")),
        ("LOA3", ("LOA3", "LOA4")),
        ("LOA4", ("LOA4",)),
        ("LOA2_NONRESIDENT", ("LOA2_NONRESIDENT", "LOA3_NONRESIDENT", "LOA4_NONRESIDENT")),
        ("LOA3_NONRESIDENT", ("LOA3_NONRESIDENT", "LOA4_NONRESIDENT")),
        ("UNCERTIFIED_LOA2", ("UNCERTIFIED_LOA2", "UNCERTIFIED_LOA3")),
        ("UNCERTIFIED_LOA3", ("UNCERTIFIED_LOA3",)),
        ("EIDAS_LOW", ("EIDAS_LOW", "EIDAS_SUB", "EIDAS_HIGH")),
        ("EIDAS_SUB", ("EIDAS_SUB", "EIDAS_HIGH")),
        ("EIDAS_HIGH", ("EIDAS_HIGH",)),
        ("EIDAS_NF_LOW", ("EIDAS_NF_LOW", "EIDAS_NF_SUB", "EIDAS_NF_HIGH")),
        ("EIDAS_NF_SUB", ("EIDAS_NF_SUB", "EIDAS_NF_HIGH")),
        (
            "UNCERTIFIED_EIDAS_LOW",
            ("UNCERTIFIED_EIDAS_LOW", "UNCERTIFIED_EIDAS_SUB", "UNCERTIFIED_EIDAS_HIGH"),
        ),
        ("UNCERTIFIED_EIDAS_SUB", ("UNCERTIFIED_EIDAS_SUB", "UNCERTIFIED_EIDAS_HIGH")),
    ],
)
def test_acceptable_lists_the_level_and_those_above_within_the_family(minimum: str, expected: tuple[str, ...]) -> None:
    # TAR 1.2.2 / DP 5.3.1: "at least loa3" is spelled "loa3, loa4".
    assert loa.acceptable(SPEC_URIS[minimum]) == tuple(SPEC_URIS[name] for name in expected)


def test_acceptable_never_crosses_families() -> None:
    # Nonresident, uncertified and eIDAS URIs state other things (REG 3.1.1.1-2; TAR 1.2.2).
    swedish = {SPEC_URIS[n] for n in ("LOA1", "LOA2", "LOA3", "LOA4")}
    for name in ("LOA2", "LOA3", "LOA4"):
        assert set(loa.acceptable(SPEC_URIS[name])) <= swedish
    for name in ("EIDAS_LOW", "EIDAS_SUB"):
        assert not set(loa.acceptable(SPEC_URIS[name])) & {
            SPEC_URIS["EIDAS_NF_SUB"],
            SPEC_URIS["EIDAS_NF_HIGH"],
            SPEC_URIS["UNCERTIFIED_EIDAS_HIGH"],
        }


def test_acceptable_keeps_an_unknown_uri_exact() -> None:
    sigmessage = ELN + "loa3-sigmessage"  # deprecated (TAR 3.3), in no family
    assert loa.acceptable(sigmessage) == (sigmessage,)


def test_requested_loas_keeps_client_order_and_drops_what_the_provider_lacks() -> None:
    acr_values = [SPEC_URIS["LOA4"], SPEC_URIS["EIDAS_SUB"], SPEC_URIS["LOA3"], SPEC_URIS["LOA4"]]
    offered = [SPEC_URIS["LOA3"], SPEC_URIS["LOA4"], SPEC_URIS["UNCERTIFIED_LOA3"]]
    assert loa.requested_loas(acr_values, offered) == (SPEC_URIS["LOA4"], SPEC_URIS["LOA3"])


def test_requested_loas_is_exact_and_does_not_widen() -> None:
    # The client asked for loa3 only; the provider offering loa4 is not enough.
    assert loa.requested_loas([SPEC_URIS["LOA3"]], [SPEC_URIS["LOA4"]]) == ()


def test_requested_loas_with_acceptable_widens_explicitly() -> None:
    assert loa.requested_loas(loa.acceptable(SPEC_URIS["LOA3"]), [SPEC_URIS["LOA4"]]) == (SPEC_URIS["LOA4"],)


def test_requested_loas_without_acr_values_lists_everything_offered() -> None:
    # DP 6.3.4: with nothing requested, any level the IdP declares is acceptable.
    offered = [SPEC_URIS["UNCERTIFIED_LOA3"], SPEC_URIS["LOA3"]]
    assert loa.requested_loas([], offered) == tuple(offered)


@pytest.mark.parametrize(
    ("returned", "requested", "ok"),
    [
        (SPEC_URIS["LOA3"], [SPEC_URIS["LOA3"], SPEC_URIS["LOA4"]], True),
        (SPEC_URIS["LOA4"], [SPEC_URIS["LOA3"], SPEC_URIS["LOA4"]], True),
        (SPEC_URIS["LOA4"], [SPEC_URIS["LOA3"]], False),  # exact: a higher level is still another URI
        (SPEC_URIS["LOA2"], [SPEC_URIS["LOA3"]], False),
        (SPEC_URIS["UNCERTIFIED_LOA3"], [SPEC_URIS["LOA3"]], False),
        (SPEC_URIS["LOA3"].upper(), [SPEC_URIS["LOA3"]], False),
        (SPEC_URIS["LOA3"] + "/", [SPEC_URIS["LOA3"]], False),
        (SPEC_URIS["LOA3"], [], False),
    ],
)
def test_satisfies_is_exact_membership(returned: str, requested: list[str], ok: bool) -> None:
    # DP 6.3.4: the AuthnContextClassRef MUST be one of the requested URIs.
    assert loa.satisfies(returned, requested) is ok


@pytest.mark.parametrize("uri", SPEC_URIS.values())
def test_relay_as_is_passes_every_uri_through(uri: str) -> None:
    assert loa.relay_acr(uri, "as-is") == uri


UNCERTIFIED_RELAY = {
    # REG 3.1.1.2 / TAR 1.2.3, as the brief words the federation rule
    "LOA2": "UNCERTIFIED_LOA2",
    "LOA3": "UNCERTIFIED_LOA3",
    "EIDAS_LOW": "UNCERTIFIED_EIDAS_LOW",
    "EIDAS_SUB": "UNCERTIFIED_EIDAS_SUB",
    "EIDAS_HIGH": "UNCERTIFIED_EIDAS_HIGH",
    "EIDAS_NF_LOW": "UNCERTIFIED_EIDAS_LOW",
    "EIDAS_NF_SUB": "UNCERTIFIED_EIDAS_SUB",
    "EIDAS_NF_HIGH": "UNCERTIFIED_EIDAS_HIGH",
}


@pytest.mark.parametrize("name", SPEC_URIS)
def test_relay_uncertified(name: str) -> None:
    expected = SPEC_URIS[UNCERTIFIED_RELAY.get(name, name)]
    assert loa.relay_acr(SPEC_URIS[name], "uncertified") == expected


def test_relay_uncertified_never_emits_an_eidas_uri() -> None:
    # Proxies MUST NOT re-emit the eidas URIs (REG 3.1.1.2).
    eidas = {uri for name, uri in SPEC_URIS.items() if name.startswith("EIDAS")}
    for uri in SPEC_URIS.values():
        assert loa.relay_acr(uri, "uncertified") not in eidas


def test_relay_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="relay policy"):
        loa.relay_acr(SPEC_URIS["LOA3"], "certified")


# --- the client's acr values -> the upstream URIs an AuthnRequest lists -------------------------

L = SPEC_URIS


@pytest.mark.parametrize(
    ("acr_values", "essential", "policy", "expected"),
    [
        # voluntary: "at least" within the family (TAR 1.2.2, DP 5.3.1)
        ([L["LOA3"]], False, "as-is", (L["LOA3"], L["LOA4"])),
        ([L["LOA2"]], False, "as-is", (L["LOA2"], L["LOA3"], L["LOA4"])),
        ([L["LOA4"]], False, "as-is", (L["LOA4"],)),
        ([L["LOA4"], L["LOA3"]], False, "as-is", (L["LOA4"], L["LOA3"])),
        ([L["EIDAS_NF_SUB"]], False, "as-is", (L["EIDAS_NF_SUB"], L["EIDAS_NF_HIGH"])),
        # variants are only there when the client names them
        ([L["LOA3"], L["UNCERTIFIED_LOA3"]], False, "as-is", (L["LOA3"], L["LOA4"], L["UNCERTIFIED_LOA3"])),
        # essential values are exact (OIDC Core 5.5.1.1)
        ([L["LOA3"]], True, "as-is", (L["LOA3"],)),
        # uncertified policy: the client's uncertified URIs come from the certified ones and themselves
        ([L["UNCERTIFIED_LOA3"]], True, "uncertified", (L["UNCERTIFIED_LOA3"], L["LOA3"])),
        ([L["UNCERTIFIED_LOA3"]], False, "uncertified", (L["UNCERTIFIED_LOA3"], L["LOA3"], L["LOA4"])),
        (
            [L["UNCERTIFIED_EIDAS_SUB"]],
            True,
            "uncertified",
            (L["UNCERTIFIED_EIDAS_SUB"], L["EIDAS_SUB"], L["EIDAS_NF_SUB"]),
        ),
        # the gateway never emits loa3 under the uncertified policy, so nothing upstream gives it
        ([L["LOA3"]], False, "uncertified", ()),
        # loa4 has no uncertified counterpart and is relayed as is
        ([L["LOA4"]], True, "uncertified", (L["LOA4"],)),
    ],
)
def test_acceptable_upstream(acr_values: list[str], essential: bool, policy: str, expected: tuple[str, ...]) -> None:
    assert loa.acceptable_upstream(acr_values, essential=essential, policy=policy) == expected


@pytest.mark.parametrize("policy", loa.RELAY_POLICIES)
@pytest.mark.parametrize("uri", SPEC_URIS.values())
def test_every_upstream_source_relays_to_the_acr_it_was_found_for(policy: str, uri: str) -> None:
    for source in loa.upstream_for(uri, policy):
        assert loa.relay_acr(source, policy) == uri


def test_relayed_acr_values_for_discovery() -> None:
    offered = [L["LOA3"], L["UNCERTIFIED_LOA3"], L["EIDAS_NF_SUB"], L["LOA4"]]
    assert loa.relayed_acr_values(offered, "as-is") == tuple(offered)
    assert loa.relayed_acr_values(offered, "uncertified") == (
        L["UNCERTIFIED_LOA3"],
        L["UNCERTIFIED_EIDAS_SUB"],
        L["LOA4"],
    )
