"""The applicant identity hash survives a rotation of the token secret.

The hash counts applications per applicant for fees (国办函〔2020〕109号: 按件 and 按量 per applicant
and month) and finds repeated applications (条例 art. 36(七)); it is an HMAC whose key is
GK_REQUESTS_IDENTITY_KEY or, when unset, one derived from GK_JWT_SECRET. Rotating GK_JWT_SECRET (a
routine security step) must not silently split one applicant into two: ``./gongkai up`` writes the
key to a file of its own, starting from the derived one so hashes already stored stay valid.
"""

from __future__ import annotations

import pytest
from gongkai_dev.cli import _derived
from gongkai_requests.schemas import ApplicantIn
from gongkai_requests.service import derived_identity_key, identity_hash
from gongkai_requests.settings import RequestsSettings
from gongkai_sentiment.service import author_key
from gongkai_sentiment.settings import SentimentSettings
from pydantic import ValidationError

OLD_SECRET = "old-token-secret-" + "x" * 32
NEW_SECRET = "new-token-secret-" + "y" * 32


def person(id_number: str = "11010519491231002X") -> ApplicantIn:
    return ApplicantIn(
        type="natural_person", name="张三", id_type="resident_id", id_number=id_number, phone="13800138000"
    )


def settings(jwt: str, identity_key: str = "") -> RequestsSettings:
    return RequestsSettings(jwt_secret=jwt, identity_key=identity_key)


def test_derived_key_written_by_the_runner_keeps_the_hashes_across_a_token_secret_rotation() -> None:
    before = identity_hash(person(), settings(OLD_SECRET))  # an installation that never set a key
    # What ./gongkai up writes to .data/requests-identity-key the first time, from the old secret:
    kept = "hex:" + _derived("gongkai-requests-identity:", OLD_SECRET).hex()
    assert _derived("gongkai-requests-identity:", OLD_SECRET) == derived_identity_key(OLD_SECRET)
    after = identity_hash(person(), settings(NEW_SECRET, identity_key=kept))
    assert after == before, "the same applicant after the rotation"
    # Without the key of its own, the rotation would have made a stranger of the same applicant.
    assert identity_hash(person(), settings(NEW_SECRET)) != before


def test_the_hash_tells_applicants_apart_and_hides_the_id_number() -> None:
    s = settings(OLD_SECRET, identity_key="a text key of the office, long enough")
    a, b = identity_hash(person(), s), identity_hash(person("110105198001010016"), s)
    assert a != b
    assert "11010519491231002" not in a
    # The same resident ID written with a lower-case check character is the same person (GB 11643).
    assert identity_hash(person("11010519491231002x"), s) == a


@pytest.mark.parametrize("bad", ["hex:zz", "hex:00ff", "hex:"])
def test_a_malformed_hex_key_is_refused_at_start(bad: str) -> None:
    with pytest.raises(ValidationError, match="identity_key"):
        settings(OLD_SECRET, identity_key=bad)


def test_runner_writes_the_sentiment_author_key_the_service_derived() -> None:
    """Author pseudonyms link one author's posts; the runner's file keeps them across a rotation too."""
    derived = author_key(SentimentSettings(jwt_secret=OLD_SECRET))
    assert _derived("gongkai-sentiment-author:", OLD_SECRET).hex() == derived
    kept = SentimentSettings(jwt_secret=NEW_SECRET, author_key=derived)
    assert author_key(kept) == derived
