import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.integrations.crm.signatures import (
    DEFAULT_TOLERANCE_S,
    SIGNATURE_HEADER,
    SignatureError,
    sign,
    verify,
)

SECRET = "whsec_current"
OLD_SECRET = "whsec_previous"
BODY = b'{"id":"evt_1","type":"contact.updated"}'
T = 1_700_000_000


def _reason(secrets: list[str], header: str | None, body: bytes = BODY, now: float = T) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(secrets, header, body, now=now)
    return caught.value.reason


class TestSign:
    def test_header_format_matches_design(self) -> None:
        expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()

        assert sign(SECRET, BODY, T) == f"t={T},v1={expected}"
        assert SIGNATURE_HEADER == "X-Signature"
        assert DEFAULT_TOLERANCE_S == 300

    def test_rejects_empty_secret(self) -> None:
        with pytest.raises(ValueError, match="secret"):
            sign("", BODY, T)


class TestVerify:
    def test_valid_signature_passes(self) -> None:
        verify([SECRET], sign(SECRET, BODY, T), BODY, now=T)

    def test_tampered_body_is_a_mismatch(self) -> None:
        header = sign(SECRET, BODY, T)

        assert _reason([SECRET], header, body=BODY.replace(b"evt_1", b"evt_2")) == "mismatch"

    def test_wrong_secret_is_a_mismatch(self) -> None:
        assert _reason([SECRET], sign("someone-else", BODY, T)) == "mismatch"

    def test_timestamp_is_part_of_the_signed_message(self) -> None:
        digest = sign(SECRET, BODY, T).split("v1=")[1]

        assert _reason([SECRET], f"t={T + 1},v1={digest}") == "mismatch"

    @pytest.mark.parametrize("skew", [0, 1, 299, 300])
    def test_skew_up_to_tolerance_is_accepted(self, skew: int) -> None:
        verify([SECRET], sign(SECRET, BODY, T), BODY, now=T + skew)
        verify([SECRET], sign(SECRET, BODY, T), BODY, now=T - skew)

    def test_just_past_tolerance_is_stale(self) -> None:
        assert _reason([SECRET], sign(SECRET, BODY, T), now=T + 300.001) == "stale"
        assert _reason([SECRET], sign(SECRET, BODY, T), now=T + 301) == "stale"

    def test_just_ahead_of_tolerance_is_future(self) -> None:
        assert _reason([SECRET], sign(SECRET, BODY, T), now=T - 300.001) == "future"
        assert _reason([SECRET], sign(SECRET, BODY, T), now=T - 301) == "future"

    def test_custom_tolerance(self) -> None:
        with pytest.raises(SignatureError):
            verify([SECRET], sign(SECRET, BODY, T), BODY, now=T + 11, tolerance_s=10)

    @pytest.mark.parametrize("header", [None, "", "   "])
    def test_missing_or_empty_header(self, header: str | None) -> None:
        assert _reason([SECRET], header) == "missing"

    @pytest.mark.parametrize(
        "header",
        [
            "garbage",
            f"v1={'a' * 64}",  # no t
            f"t={T}",  # no v1
            f"t={T},v1=",
            f"t=abc,v1={'a' * 64}",  # non-int t
            f"t=-5,v1={'a' * 64}",
            f"t=1.5,v1={'a' * 64}",
            f"t={T},v1={'z' * 64}",  # non-hex v1
            f"t={T},v1={'a' * 63}",  # short v1
            f"t={T},t={T},v1={'a' * 64}",  # ambiguous t
            f"t={T},v1={'a' * 64}," + ",".join(f"v1={'b' * 64}" for _ in range(8)),
            "t=" + "9" * 5000 + f",v1={'a' * 64}",
        ],
    )
    def test_malformed_header(self, header: str) -> None:
        assert _reason([SECRET], header) == "malformed"

    def test_message_never_reveals_secret_or_expected_digest(self) -> None:
        expected = sign(SECRET, BODY, T).split("v1=")[1]
        with pytest.raises(SignatureError) as caught:
            verify([SECRET], f"t={T},v1={'0' * 64}", BODY, now=T)

        text = str(caught.value) + caught.value.message
        assert SECRET not in text
        assert expected not in text

    def test_whitespace_around_entries_and_upper_case_hex_are_tolerated(self) -> None:
        digest = sign(SECRET, BODY, T).split("v1=")[1]

        verify([SECRET], f" t={T} , v1={digest.upper()} ", BODY, now=T)

    def test_unknown_schemes_are_ignored(self) -> None:
        verify([SECRET], sign(SECRET, BODY, T) + ",v0=deadbeef", BODY, now=T)

    def test_any_of_several_v1_entries_may_match(self) -> None:
        good = sign(SECRET, BODY, T).split("v1=")[1]
        other = sign(OLD_SECRET, b"other", T).split("v1=")[1]

        verify([SECRET], f"t={T},v1={other},v1={good}", BODY, now=T)

    def test_secret_rotation_accepts_old_and_new_secret(self) -> None:
        for signer in (SECRET, OLD_SECRET):
            verify([SECRET, OLD_SECRET], sign(signer, BODY, T), BODY, now=T)

        assert _reason([SECRET, OLD_SECRET], sign("retired", BODY, T)) == "mismatch"

    def test_sender_signing_with_both_secrets_during_rotation(self) -> None:
        new = sign("brand-new", BODY, T).split("v1=")[1]
        old = sign(SECRET, BODY, T).split("v1=")[1]

        verify([SECRET], f"t={T},v1={new},v1={old}", BODY, now=T)

    def test_no_usable_secret_is_a_configuration_error(self) -> None:
        with pytest.raises(ValueError, match="secret"):
            verify(["", ""], sign(SECRET, BODY, T), BODY, now=T)


class TestProperties:
    @given(body=st.binary(max_size=512), secret=st.text(min_size=1, max_size=40))
    def test_sign_then_verify_round_trips(self, body: bytes, secret: str) -> None:
        verify([secret], sign(secret, body, T), body, now=T)

    @given(data=st.data(), body=st.binary(min_size=1, max_size=512))
    def test_any_one_byte_change_fails(self, data: st.DataObject, body: bytes) -> None:
        header = sign(SECRET, body, T)
        index = data.draw(st.integers(min_value=0, max_value=len(body) - 1))
        delta = data.draw(st.integers(min_value=1, max_value=255))
        changed = bytearray(body)
        changed[index] = (changed[index] + delta) % 256

        with pytest.raises(SignatureError) as caught:
            verify([SECRET], header, bytes(changed), now=T)
        assert caught.value.reason == "mismatch"
