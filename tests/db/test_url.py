from __future__ import annotations

import pytest

from neon_tenants.db import DatabaseUrl, DatabaseUrlError, database_url

URL = "postgresql://app:p%40ss%2Fw0rd!@db.internal:6543/fleet?sslmode=require"


def test_redacted_url_hides_the_password() -> None:
    url = DatabaseUrl.parse(URL)
    assert url.redacted == "postgresql://app:***@db.internal:6543/fleet?sslmode=require"
    assert "p@ss" not in repr(url) and "p@ss" not in str(url)
    assert url.password.get_secret_value() == "p@ss/w0rd!"


def test_pulumi_backend_url_has_no_password_and_names_the_state_table() -> None:
    backend, env = DatabaseUrl.parse(URL).pulumi_backend()
    assert backend == "postgres://app@db.internal:6543/fleet?sslmode=require&table=pulumi_state"
    assert env == {"PGPASSWORD": "p@ss/w0rd!"}


def test_scrub_masks_raw_and_percent_encoded_password() -> None:
    url = DatabaseUrl.parse(URL)
    text = f"failed: {URL} and p@ss/w0rd! and p%40ss%2Fw0rd%21"
    assert "w0rd" not in url.scrub(text)


@pytest.mark.parametrize(
    "bad", ["mysql://u:p@h/db", "postgresql://u:p@h", "postgresql://u:p@h:notaport/db"]
)
def test_malformed_url_is_refused_without_echoing_the_password(bad: str) -> None:
    with pytest.raises(DatabaseUrlError) as info:
        DatabaseUrl.parse(bad)
    assert ":p@" not in str(info.value)


def test_no_database_url_means_the_embedded_default() -> None:
    assert database_url({}) is None
    assert database_url({"NEON_TENANTS_DATABASE_URL": URL}) == DatabaseUrl.parse(URL)


QUERY_URL = "postgresql://app@db.internal:6543/fleet?sslmode=require&password=q%40ss%26w0rd"


def test_a_password_in_the_query_string_is_held_apart_like_the_userinfo_one() -> None:
    url = DatabaseUrl.parse(QUERY_URL)
    assert url.password.get_secret_value() == "q@ss&w0rd"
    assert url.redacted == "postgresql://app:***@db.internal:6543/fleet?sslmode=require"
    backend, env = url.pulumi_backend()
    assert backend == "postgres://app@db.internal:6543/fleet?sslmode=require&table=pulumi_state"
    assert env == {"PGPASSWORD": "q@ss&w0rd"}
    assert url.conninfo() == "postgresql://app:q%40ss%26w0rd@db.internal:6543/fleet?sslmode=require"


def test_a_query_password_overrides_the_userinfo_one_as_in_libpq() -> None:
    url = DatabaseUrl.parse("postgresql://app:old@h/db?password=new")
    assert url.password.get_secret_value() == "new" and "new" not in url.redacted


def test_scrub_masks_a_password_given_as_a_parameter() -> None:
    url = DatabaseUrl.parse(QUERY_URL)
    text = f"failed: {QUERY_URL}; conninfo host=h password='x y' dbname=d; password=zz"
    scrubbed = url.scrub(text)
    assert "w0rd" not in scrubbed and "x y" not in scrubbed and "zz" not in scrubbed
