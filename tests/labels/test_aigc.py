"""The Annex E label: strict values, both JSON forms, a tolerant reader, provider codes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from synthguard.errors import LabelValueError
from synthguard.identity.uscc import ALPHABET, check_character
from synthguard.labels.aigc import (
    FIELDS,
    AIGCLabel,
    charset_violation,
    decode,
    parse_provider_code,
    provider_code,
    provider_code_problem,
)

DOUBAO = "001191110102MACQD9K64010000"  # a provider code seen in real files

# Annex E j): 0x21, 0x23-0x5B, 0x5D-0x7E, and the escaped quote.
annex_e_char = st.sampled_from(
    [chr(c) for c in range(0x21, 0x7F) if c != 0x5C])
annex_e_value = st.text(annex_e_char, min_size=1, max_size=40)


def codes(f: object) -> list[str]:
    return [x.code for x in f.findings]  # type: ignore[attr-defined]


def test_create_applies_annex_e_note_1() -> None:
    label = AIGCLabel.create(producer=DOUBAO, produce_id="img-1")
    assert label.content_propagator == DOUBAO
    assert label.propagate_id == "img-1"
    assert label.label_name == "generated"


def test_json_forms() -> None:
    label = AIGCLabel.create(producer=DOUBAO, produce_id="a1")
    bare = json.loads(label.to_json())
    wrapped = json.loads(label.to_json(wrapped=True))
    assert list(bare) == list(FIELDS)
    assert wrapped == {"AIGC": bare}
    assert all(isinstance(v, str) for v in bare.values())
    assert " " not in label.to_json()


@pytest.mark.parametrize("value,char", [
    ("某某科技", "某"), ("a b", " "), ("a\\b", "\\"), ("tab\t", "\t"), ("é", "é"), ("\x7f", "\x7f"),
])
def test_charset_error_names_field_and_character(value: str, char: str) -> None:
    with pytest.raises(LabelValueError) as info:
        AIGCLabel.create(producer=value, produce_id="x")
    assert info.value.field == "ContentProducer"
    assert repr(char) in str(info.value)
    assert f"U+{ord(char):04X}" in str(info.value)


def test_quote_is_allowed_as_escaped_quote() -> None:
    label = AIGCLabel.create(producer="A", produce_id='x"y')
    assert '\\"' in label.to_json()
    assert decode(label.to_json()).ok


@pytest.mark.parametrize("bad", ["0", "4", "", "AIGC", "1 ", "01"])
def test_label_enum(bad: str) -> None:
    with pytest.raises(LabelValueError, match="Label"):
        AIGCLabel.create(producer="A", produce_id="x", label=bad)


def test_oversized_field() -> None:
    with pytest.raises(LabelValueError, match="limit"):
        AIGCLabel.create(producer="A", produce_id="x" * 5000)


def test_required_fields_not_empty() -> None:
    with pytest.raises(LabelValueError, match="ProduceID"):
        AIGCLabel.create(producer="A", produce_id="")


def test_decoder_accepts_both_forms_without_errors() -> None:
    label = AIGCLabel.create(producer=DOUBAO, produce_id="a1")
    for text in (label.to_json(), label.to_json(wrapped=True)):
        d = decode(text)
        assert d.ok and d.fields == label.fields() and d.findings == []
    assert decode(label.to_json()).form == "bare"
    assert decode(label.to_json(wrapped=True)).form == "wrapped"


def test_decoder_reports_real_world_variants() -> None:
    d = decode('  {"Label": 1, "ContentProducer": "P", "ProduceID": "x"}\n')
    assert not d.ok
    assert {"whitespace", "formatting", "not-string", "missing-field"} <= set(codes(d))
    assert d.fields is not None and d.fields["Label"] == "1"
    assert any(f.field == "Label" and f.severity == "error" for f in d.findings)


def test_decoder_prefixed_form() -> None:
    d = decode('AIGC{"Label":"1","ContentProducer":"P","ProduceID":"x"}')
    assert d.form == "prefixed"
    assert "prefixed-form" in codes(d)


@pytest.mark.parametrize("raw,code", [
    ("", "malformed-json"), ("{", "malformed-json"), ("[1]", "not-object"),
    ('{"Label":"1","Label":"2"}', "malformed-json"), (b"\xff\xfe", "encoding"),
    ("{" * 100000, "oversized"),
    ('{"Label":"1","ContentProducer":"P","ProduceID":"x","Bogus":"y"}', "unknown-field"),
    ('{"Label":"AIGC","ContentProducer":"P","ProduceID":"x"}', "invalid-value"),
    ('{"Label":"1","ContentProducer":"字节","ProduceID":"x"}', "invalid-value"),
    ('{"Label":"1","ContentProducer":null,"ProduceID":"x"}', "not-string"),
    ('{"AIGC":{"Label":"1","ContentProducer":"P","ProduceID":"x"},"x":1}', "unknown-field"),
])
def test_decoder_never_raises_and_names_problem(raw: str | bytes, code: str) -> None:
    d = decode(raw)
    assert code in codes(d)
    assert not d.ok


def test_decoder_deep_nesting_is_a_finding() -> None:
    d = decode("[" * 5000 + "]" * 5000)
    assert not d.ok


@given(label=st.sampled_from(["1", "2", "3"]), producer=annex_e_value, pid=annex_e_value,
       r1=st.text(annex_e_char, max_size=20), wrapped=st.booleans())
def test_roundtrip_property(label: str, producer: str, pid: str, r1: str, wrapped: bool) -> None:
    aigc = AIGCLabel.create(producer=producer, produce_id=pid, label=label, reserved_code1=r1)
    d = decode(aigc.to_json(wrapped=wrapped))
    assert d.ok
    assert d.label() == aigc


@given(st.text(max_size=60))
def test_charset_property(value: str) -> None:
    ok = all(0x21 <= ord(c) <= 0x7E and c != "\\" for c in value)
    assert (charset_violation(value) is None) == ok


@given(st.text(max_size=200) | st.binary(max_size=200))
def test_decoder_total(raw: str | bytes) -> None:
    decode(raw)  # never raises


# --- provider codes (TC260-PG-20252A) ---------------------------------------------------

def test_real_provider_code_validates() -> None:
    parsed = parse_provider_code(DOUBAO)
    assert parsed.uscc == "91110102MACQD9K640"
    assert parsed.service == "generation"
    assert parsed.model_code == "0000"


def test_build_provider_code() -> None:
    assert provider_code("91110102MACQD9K640", service="1", model_code="0000") == DOUBAO
    code = provider_code("91110102MACQD9K640", service="")
    assert code.endswith("00000") and len(code) == 27


@pytest.mark.parametrize("code,reason", [
    (DOUBAO[:-1], "27"),
    ("01" + DOUBAO[2:], "format code"),
    ("0021" + DOUBAO[4:], "subject code"),
    (DOUBAO[:21] + "1" + DOUBAO[22:], "check character"),
    (DOUBAO[:22] + "30000", "service extension"),
    (DOUBAO.lower(), "27"),
])
def test_bad_provider_codes(code: str, reason: str) -> None:
    problem = provider_code_problem(code)
    assert problem is not None and reason in problem
    with pytest.raises(LabelValueError):
        parse_provider_code(code)


def test_decoder_warns_on_bad_provider_code() -> None:
    bad = DOUBAO[:21] + "1" + DOUBAO[22:]
    d = decode(json.dumps({"Label": "1", "ContentProducer": bad, "ProduceID": "x"}))
    assert "provider-code" in codes(d)


uscc_body = st.text(st.sampled_from(ALPHABET), min_size=9, max_size=9)


@given(st.sampled_from("123456789ANY"), st.sampled_from("123459"),
       st.text(st.sampled_from("0123456789"), min_size=6, max_size=6), uscc_body,
       st.sampled_from(["1", "2"]), st.text(st.sampled_from(ALPHABET[:34]), min_size=4,
                                            max_size=4))
def test_provider_code_property(auth: str, kind: str, region: str, body: str, service: str,
                                model: str) -> None:
    first17 = auth + kind + region + body
    uscc = first17 + check_character(first17)
    code = provider_code(uscc, service=service, model_code=model)
    assert parse_provider_code(code).uscc == uscc
