"""The fast canonical form must be exactly the reference definition, for any JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.integrations.crm import canonical
from app.integrations.crm.canonical import canonical_body_hash, canonical_text

# Text that includes the private-use tag and quotes, so collisions would show.
_TEXT = st.text(alphabet=st.sampled_from(["a", "é", '"', "\\", "\ue000", "1", " ", "\u2028"]))
_NUMBER_TEXT = st.sampled_from(["0", "-1", "1.0", "1.00", "1e5", "1E+5", "0.30000000000000001"])


def _json_text(value: Any, escape: bool) -> str:
    """Serialise with number placeholders replaced by their exact text."""
    if isinstance(value, dict):
        items = (
            f"{json.dumps(k, ensure_ascii=escape)}: {_json_text(v, escape)}"
            for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json_text(v, escape) for v in value) + "]"
    if isinstance(value, tuple):  # ("num", text)
        return str(value[1])
    return json.dumps(value, ensure_ascii=escape)


_VALUES = st.recursive(
    st.none() | st.booleans() | _TEXT | st.tuples(st.just("num"), _NUMBER_TEXT),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=12,
)


def _reference(body: bytes) -> str:
    document = json.loads(
        body,
        parse_float=canonical._NumberText,
        parse_int=canonical._NumberText,
        parse_constant=canonical._NumberText,
    )
    return canonical._reference_canonical(document)


@settings(max_examples=300)
@given(_VALUES, st.booleans())
def test_fast_path_gives_the_reference_text(value: Any, escape: bool) -> None:
    # escape=True writes non-ASCII as \uXXXX (the tag too), False as raw UTF-8.
    body = _json_text(value, escape).encode()

    assert canonical_text(body) == _reference(body)


def test_a_string_holding_the_tag_is_not_taken_for_a_number() -> None:
    number = b'{"a": 1}'
    string = b'{"a": "\\ue0001"}'

    assert canonical_body_hash(number) != canonical_body_hash(string)
    assert canonical_text(string) == '{"a":"\\ue0001"}'
