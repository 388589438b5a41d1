"""The personal data vault: keyed hashes, AES-GCM under rotating keys, masked forms,
deletion after the retention period (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from synthguard.accounts import AccountState
from synthguard.identity.errors import IdentityError
from synthguard.identity.models import IdentityBinding, VaultEntry
from synthguard.identity.services import IdentityServices
from synthguard.identity.vault import DataKind, Keyring, Vault, mask
from tests.accounts.conftest import SECRET, FakeClock
from tests.identity.fake_vendor import FakeVendor
from tests.identity.helpers import MOBILE, NAME, STANDARD_ID, new_user, verify_by_mobile

K1, K2 = bytes(range(1, 33)), bytes(range(33, 65))


def test_masked_forms() -> None:
    assert mask(DataKind.ID_NUMBER, "110105194912311234") == "110***********1234"
    assert mask(DataKind.MOBILE, MOBILE) == "138****8000"
    assert mask(DataKind.REAL_NAME, NAME) == "王**"
    assert mask(DataKind.REAL_NAME, "李") == "*"
    assert mask(DataKind.MOBILE, "12345") == "*****"


def test_seal_and_open_bind_ciphertext_to_its_row() -> None:
    ring = Keyring(SECRET)
    key_id, blob = ring.seal("pv_a", "id_number", STANDARD_ID)
    assert key_id == "k0" and STANDARD_ID.encode() not in blob
    assert ring.open("pv_a", "id_number", key_id, blob) == STANDARD_ID
    with pytest.raises(IdentityError) as moved:
        ring.open("pv_b", "id_number", key_id, blob)
    assert moved.value.code == "vault_corrupt" and STANDARD_ID not in str(moved.value)
    with pytest.raises(IdentityError, match="no longer configured"):
        Keyring(SECRET, {"k9": K1}).open("pv_a", "id_number", key_id, blob)
    # Same value, fresh nonce: ciphertexts differ; the lookup hash does not.
    assert ring.seal("pv_a", "id_number", STANDARD_ID)[1] != blob
    assert ring.lookup_hash("id_number", STANDARD_ID) == Keyring(SECRET).lookup_hash(
        "id_number", STANDARD_ID)
    assert ring.lookup_hash("id_number", STANDARD_ID) != Keyring(K1).lookup_hash(
        "id_number", STANDARD_ID)
    assert "k0" in repr(ring) and SECRET.hex() not in repr(ring)


def test_values_are_stored_once_per_kind(services: IdentityServices) -> None:
    with services.database.session() as s:
        a = services.vault.put(s, DataKind.MOBILE, MOBILE)
        b = services.vault.put(s, DataKind.MOBILE, MOBILE)
        c = services.vault.put(s, DataKind.REAL_NAME, MOBILE)
    assert a == b and a.masked == "138****8000" and c.entry_id != a.entry_id
    with services.database.session() as s:
        assert services.vault.lookup(s, DataKind.MOBILE, MOBILE) == a
        assert services.vault.lookup(s, DataKind.MOBILE, "13900139000") is None
        assert services.vault.reveal(s, a.entry_id) == MOBILE
        entry = s.get(VaultEntry, a.entry_id)
        assert entry is not None and MOBILE.encode() not in entry.ciphertext
        assert MOBILE not in entry.lookup_hash


def test_rotation_reseals_under_the_new_key(services: IdentityServices,
                                            clock: FakeClock) -> None:
    old = Vault(Keyring(SECRET, {"k1": K1}), clock)
    with services.database.session() as s:
        refs = [old.put(s, DataKind.MOBILE, f"1380013{n:04d}") for n in range(5)]
    both = Vault(Keyring(SECRET, {"k1": K1, "k2": K2}, "k2"), clock)
    with services.database.session() as s:  # old ciphertexts still open
        assert both.reveal(s, refs[0].entry_id) == "13800130000"
    assert both.rotate(services.database, batch=2) == 5
    assert both.rotate(services.database) == 0
    new_only = Vault(Keyring(SECRET, {"k2": K2}), clock)
    with services.database.session() as s:
        assert set(s.scalars(select(VaultEntry.key_id))) == {"k2"}
        assert [new_only.reveal(s, r.entry_id) for r in refs] == [
            f"1380013{n:04d}" for n in range(5)]
        # Lookups survive rotation: the lookup key derives from the server secret.
        assert new_only.lookup(s, DataKind.MOBILE, "13800130003") == refs[3]
        with pytest.raises(IdentityError):
            old.reveal(s, refs[0].entry_id)


def test_purge_after_retention_of_closed_accounts(services: IdentityServices,
                                                  vendor: FakeVendor, clock: FakeClock) -> None:
    closing, staying = new_user(services), new_user(services)
    verify_by_mobile(services, vendor, closing)
    verify_by_mobile(services, vendor, staying, "13900139000")
    services.accounts.set_state(closing, AccountState.CLOSED, "user asked", "admin")
    clock.advance(days=services.settings.retention_days - 1)
    before = services.purge()
    # Used codes older than a day go at any purge; the account's data stays.
    assert before.accounts == 0 and before.entries == 0 and before.challenges == 2
    assert services.verification.status(closing).masked == {"mobile": "138****8000"}
    clock.advance(days=2)
    report = services.purge()
    assert report.accounts == 1 and report.entries == 1 and report.challenges == 0
    assert services.verification.status(closing).masked == {}
    assert services.verification.status(staying).masked == {"mobile": "139****9000"}
    with services.database.session() as s:
        assert services.vault.lookup(s, DataKind.MOBILE, MOBILE) is None
        assert s.scalars(select(IdentityBinding.user_id)).all() == [staying]
    # The closed account keeps its verification record: method and evidence id only.
    info = services.accounts.describe_user(closing)
    assert info.verified and info.verification_method == "mobile_otp"


def test_a_reopened_account_keeps_its_data(services: IdentityServices, vendor: FakeVendor,
                                           clock: FakeClock) -> None:
    user = new_user(services)
    verify_by_mobile(services, vendor, user)
    services.accounts.set_state(user, AccountState.CLOSED, "asked", "admin")
    services.accounts.set_state(user, AccountState.ACTIVE, "came back", "admin", reopen=True)
    clock.advance(days=services.settings.retention_days + 1)
    assert services.purge().accounts == 0
    assert services.verification.status(user).masked == {"mobile": "138****8000"}


def test_unreferenced_entries_go_after_a_grace_period(services: IdentityServices,
                                                      clock: FakeClock) -> None:
    with services.database.session() as s:
        services.vault.put(s, DataKind.ID_NUMBER, STANDARD_ID)
    assert services.purge().entries == 0
    clock.advance(hours=2)
    assert services.purge().entries == 1
    clock.advance(hours=1)
    assert services.purge() == type(services.purge())(0, 0, 0)


def test_retention_zero_releases_at_the_next_purge(services: IdentityServices,
                                                   vendor: FakeVendor, clock: FakeClock) -> None:
    user = new_user(services)
    verify_by_mobile(services, vendor, user)
    services.accounts.set_state(user, AccountState.CLOSED, "asked", "admin")
    assert services.vault.purge(services.database, timedelta(0)).accounts == 1
