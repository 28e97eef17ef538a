"""SOPS documents: detection, the decryption Secret's keys, and messages without secrets."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from driftless.core.models import Application
from driftless.core.resources import Manifest
from driftless.render import sops_docs, sops_exec
from driftless.render.sops_docs import SopsError
from driftless.render.sops_keyring import GnuPG

# A syntactically valid age identity (bech32 charset, 58 characters after the prefix).
IDENTITY = "AGE-SECRET-KEY-1" + "Q" * 58
PGP_BEGIN = "-----BEGIN PGP PRIVATE KEY BLOCK-----"
# The shape of an armored key (the body is not a key: gpg parses it, not us).
PGP_KEY = f"{PGP_BEGIN}\n\nlQdGBGkSECRETBODY\n=AbCd\n-----END PGP PRIVATE KEY BLOCK-----\n"
PGP_PUBLIC = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQINBGk\n-----END PGP PUBLIC KEY BLOCK-----"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(**extra: Any) -> Manifest:
    obj = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db", "namespace": "demo"}}
    return Manifest({**obj, **extra}, "secrets/db.yaml", 3)


def test_a_document_with_a_top_level_sops_key_is_encrypted() -> None:
    assert sops_docs.is_encrypted(_secret(sops={"mac": "ENC[...]"}))
    assert sops_docs.is_encrypted(_secret(sops="garbage"))  # it claims to be: never applied as is
    assert not sops_docs.is_encrypted(_secret(data={"sops": "YQ=="}))  # only the top level counts
    assert not sops_docs.is_encrypted(_secret())


def test_describe_names_the_object_and_its_file() -> None:
    assert sops_docs.describe(_secret()) == "Secret demo/db (secrets/db.yaml:3)"
    assert sops_docs.describe(Manifest({"kind": "Secret"})) == "Secret <no name>"


@pytest.mark.parametrize("metadata", ["garbage", {}, {"mac": 3}, ["mac"], None])
def test_metadata_that_is_not_what_sops_writes_is_refused_before_sops_runs(metadata: Any) -> None:
    with pytest.raises(SopsError, match=r"Secret demo/db \(secrets/db.yaml:3\).*not sops metadata"):
        sops_docs.check_document(_secret(sops=metadata))


def test_a_huge_document_is_refused_before_sops_runs() -> None:
    huge = _secret(sops={"mac": "x"}, data={"k": "A" * (sops_docs.MAX_DOCUMENT_BYTES + 1)})
    with pytest.raises(SopsError, match="over the 2097152-byte limit"):
        sops_docs.check_document(huge)


def test_age_identities_are_read_from_agekey_entries_only() -> None:
    data = {
        "team.agekey": _b64(f"# created: today\n# public key: age1xyz\n{IDENTITY}\n"),
        "other.agekey": _b64(IDENTITY.lower()),
        "README": _b64("not a key"),
    }
    keys = sops_docs.parse_keys("demo/sops-keys", data)
    assert keys.age_identities == (IDENTITY.lower(), IDENTITY)  # sorted by entry name
    assert keys.age_env() == f"{IDENTITY.lower()}\n{IDENTITY}"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "has no age identity .* and no PGP private key"),
        ({"README": _b64("x")}, "has no age identity"),
        ({"k.agekey": "%%%"}, "'k.agekey' is not base64 UTF-8 text"),
        ({"k.agekey": _b64("AGE-SECRET-KEY-1SHORT")}, "'k.agekey' line 1 is not an age identity"),
        ({"k.asc": _b64(PGP_BEGIN)}, "'k.asc' is not one ASCII-armored PGP private key block"),
        ({"k.asc": _b64(PGP_KEY + PGP_KEY)}, "'k.asc' is not one ASCII-armored"),
        ({"k.asc": _b64("garbage")}, "'k.asc' is not one ASCII-armored"),
        ({"k.asc": "%%%"}, "'k.asc' is not base64 UTF-8 text"),
        ({"k.asc": _b64(PGP_PUBLIC)}, "'k.asc' is a PGP public key; decryption needs the private"),
        ({"k.asc": _b64(PGP_KEY + "A" * 70_000)}, "'k.asc' is over the 65536-byte limit"),
        ({f"k{i}.asc": _b64(PGP_KEY) for i in range(9)}, "holds 9 PGP keys .*, more than 8"),
        ({"k.agekey": _b64("\n".join([IDENTITY] * 33))}, "33 age identities, more than 32"),
    ],
)
def test_unusable_key_secrets_are_refused_without_quoting_them(
    data: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(SopsError, match=message) as caught:
        sops_docs.parse_keys("demo/sops-keys", data)
    assert "demo/sops-keys" in str(caught.value)
    assert "AGE-SECRET-KEY-1S" not in str(caught.value) and "PGP PRIVATE" not in str(caught.value)
    assert "SECRETBODY" not in str(caught.value) and "mQINBGk" not in str(caught.value)


def test_pgp_private_keys_are_read_from_asc_entries_beside_age_identities() -> None:
    data = {
        "b.asc": _b64(f"  {PGP_KEY}\n\n"),  # surrounding blank space is harmless
        "a.asc": _b64(PGP_KEY.replace("SECRETBODY", "OTHERBODY")),
        "team.agekey": _b64(IDENTITY),
    }
    keys = sops_docs.parse_keys("demo/sops-keys", data)
    assert keys.age_identities == (IDENTITY,)
    assert len(keys.pgp_keys) == 2 and "OTHERBODY" in keys.pgp_keys[0]
    assert all(k.startswith(PGP_BEGIN) and k.endswith("BLOCK-----\n") for k in keys.pgp_keys)
    only_pgp = sops_docs.parse_keys("demo/sops-keys", {"k.asc": _b64(PGP_KEY)})
    assert only_pgp.age_identities == () and only_pgp.pgp_keys == (PGP_KEY,)


def test_reason_of_keeps_sops_error_lines_but_never_key_lines() -> None:
    stderr = (
        "Failed to get the data key required to decrypt the SOPS file.\n\n"
        f"identity {IDENTITY} did not match\n"
        "Group 0: FAILED\n  age1abc: FAILED\n"
    )
    reason = sops_docs.reason_of(stderr)
    assert reason.startswith("Failed to get the data key")
    assert "AGE-SECRET-KEY" not in reason and "Group 0: FAILED" in reason
    assert sops_docs.reason_of("") == "sops failed without saying why"
    assert len(sops_docs.reason_of("x" * 5000)) == sops_docs.MAX_REASON_CHARS


def test_decrypted_output_must_be_the_same_object_without_sops_metadata() -> None:
    original = _secret(sops={"mac": "x"})
    plain = sops_docs.decrypted_document(
        original, '{"apiVersion":"v1","kind":"Secret","metadata":{"name":"db"},"data":{}}'
    )
    assert plain.obj["kind"] == "Secret" and plain.source_file == "secrets/db.yaml"
    for bad, why in [
        ("not json", "not JSON"),
        ('{"apiVersion":"v1","kind":"Secret","sops":{}}', "not a decrypted document"),
        ('{"apiVersion":"v1","kind":"ConfigMap"}', "its kind changed"),
    ]:
        with pytest.raises(SopsError, match=why):
            sops_docs.decrypted_document(original, bad)


def test_sops_runs_with_only_the_app_keys_in_its_environment() -> None:
    keys = sops_docs.SopsKeys("demo/k", (IDENTITY,))
    env = sops_exec.sops_environment(keys)
    # No PATH (no gpg), no cloud credentials, no home directory with a key file.
    assert set(env) == {"SOPS_AGE_KEY", "HOME", "XDG_CONFIG_HOME", "GNUPGHOME", "LC_ALL"}
    assert env["SOPS_AGE_KEY"] == IDENTITY
    assert env["GNUPGHOME"].startswith("/nonexistent/")  # no keyring without PGP keys
    # With PGP keys: the in-memory keyring of this decryption, and gpg by its absolute path.
    gnupg = GnuPG("/usr/bin/gpg", "/dev/shm/driftless-gnupg-x")
    with_pgp = sops_exec.sops_environment(keys, gnupg)
    assert with_pgp["GNUPGHOME"] == "/dev/shm/driftless-gnupg-x"
    assert with_pgp["SOPS_GPG_EXEC"] == "/usr/bin/gpg" and "PATH" not in with_pgp
    argv = sops_exec.sops_argv("/bin/sops")
    assert argv[:2] == ["/bin/sops", "decrypt"] and not any(a.startswith("/dev") for a in argv)


def test_the_decryption_secret_is_named_in_the_app_source() -> None:
    app = Application.model_validate(
        {
            "metadata": {"name": "a", "namespace": "team-a"},
            "spec": {
                "source": {
                    "repoURL": "https://x/r.git",
                    "decryption": {"secretRef": {"name": "k"}},
                },
                "destination": {"namespace": "demo"},
            },
        }
    )
    decryption = app.spec.source.decryption
    assert decryption is not None
    assert (decryption.provider, decryption.secret_ref.name) == ("sops", "k")
