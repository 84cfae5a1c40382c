"""One identity as data: what terraform's environment and boto3's session get from it."""

from __future__ import annotations

import boto3

from llm_twin.config.credentials import Credentials

KEYS = Credentials(access_key_id="AKIAEXAMPLE", secret_access_key="secret", session_token="token")


def test_keys_are_the_whole_environment_even_when_empty() -> None:
    assert Credentials(access_key_id="AKIAEXAMPLE", secret_access_key="secret").as_env() == {
        "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_SESSION_TOKEN": "",
    }


def test_a_profile_alone_is_named_by_its_variable() -> None:
    assert Credentials(profile="admin").as_env() == {"AWS_PROFILE": "admin"}


def test_the_secret_never_shows_in_the_repr() -> None:
    assert "secret" not in repr(KEYS) and "token" not in repr(KEYS)


def test_boto3_takes_the_session_arguments_as_they_are() -> None:
    session = boto3.Session(**KEYS.session_arguments(), region_name="eu-central-1")
    frozen = session.get_credentials().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AKIAEXAMPLE", "secret", "token")


def test_no_keys_and_no_profile_leave_boto3_its_default_chain() -> None:
    assert Credentials().session_arguments() == {"profile_name": None}
    assert Credentials(profile="admin").session_arguments() == {"profile_name": "admin"}
