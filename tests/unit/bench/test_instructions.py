"""The benchmark's callgrind reader counts each function's own instructions once, and the RSA arithmetic apart."""

from __future__ import annotations

from bench.instructions import parse_dump

# A dump as callgrind writes it with --compress-strings=no: cost lines are "<line> <Ir>", and the
# line after calls= is the inclusive cost of that call, already counted in the callee's own lines.
DUMP = """# callgrind format
version: 1
positions: line
events: Ir
summary: 1111

ob=/usr/lib/libpython3.11.so.1.0
fl=ceval.c
fn=_PyEval_EvalFrameDefault
10 100
+2 20
cob=/site-packages/xmlsec.cpython-311-x86_64-linux-gnu.so
cfn=bn_sqr8x_internal
calls=3 0
12 900

ob=/site-packages/xmlsec.cpython-311-x86_64-linux-gnu.so
fl=bn.c
fn=bn_sqr8x_internal
0 900
fn=xmlC14NExecute
5 80
* 11

totals: 1111
"""


def test_self_costs_are_summed_and_inclusive_call_costs_skipped() -> None:
    counts = parse_dump(DUMP)
    assert counts.total == 100 + 20 + 900 + 80 + 11


def test_rsa_arithmetic_is_counted_apart_from_its_library() -> None:
    counts = parse_dump(DUMP)
    assert counts.rsa == 900
    assert counts.by_object == {
        "libpython3.11.so.1.0": 120,
        "xmlsec.cpython-311-x86_64-linux-gnu.so": 91,
    }


def test_compressed_names_resolve_to_their_first_definition() -> None:
    compressed = (
        "events: Ir\nob=(1) /lib/libcrypto.so.3\nfn=(7) bn_mul_mont\n1 50\nfn=(8) EVP_DigestUpdate\n1 5\nfn=(7)\n2 10\n"
    )
    counts = parse_dump(compressed)
    assert counts.rsa == 60
    assert counts.by_object == {"libcrypto.so.3": 5}
