import pytest

from vivim.domain.errors import InvalidIdentifier
from vivim.domain.ids import derived_id, new_id, validate_user_id, validate_user_name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 65, "../x", "a/b", "a\\b", "..", ".", "a\x00b", "-leading-dash", "with space", "é"],
)
def test_bad_user_names_are_rejected_with_a_reason(name: str) -> None:
    with pytest.raises(InvalidIdentifier) as info:
        validate_user_name(name)
    assert str(info.value)  # a message a person can read


@pytest.mark.parametrize("name", ["alice", "Bob_2", "a.b-c", "x" * 64, "7"])
def test_plain_handles_are_accepted(name: str) -> None:
    assert validate_user_name(name) == name


@pytest.mark.parametrize("uid", ["", "../" + "a" * 29, "A" * 32, "a" * 31, "a" * 33, "g" * 32, "a" * 31 + "\x00"])
def test_user_ids_that_could_reach_a_path_badly_are_rejected(uid: str) -> None:
    with pytest.raises(InvalidIdentifier):
        validate_user_id(uid)


def test_new_ids_are_valid_user_ids_and_unique() -> None:
    ids = {new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(validate_user_id(i) == i for i in ids)


def test_derived_ids_are_deterministic_and_separate_their_parts() -> None:
    assert derived_id("a", "b") == derived_id("a", "b")
    assert derived_id("ab", "") != derived_id("a", "b")
    assert len(derived_id("x")) == 32
