"""The in-memory GnuPG keyring: where it may live, gpg's argv, protected keys, refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftless.render import sops_keyring
from driftless.render.sops_docs import SopsError, SopsKeys
from driftless.render.sops_keyring import GnuPG

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
tmpfs /dev/shm tmpfs rw,nosuid,nodev 0 0
/dev/vdb /dev/shm/disk ext4 rw 0 0
tmpfs /run tmpfs rw 0 0
/dev/vdc /mnt/my\\040disk xfs rw 0 0
"""
KEY = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nSECRETBODY\n-----END PGP PRIVATE KEY BLOCK-----\n"


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/dev/shm", "tmpfs"),
        ("/dev/shm/driftless-gnupg-x", "tmpfs"),
        ("/dev/shm/disk/x", "ext4"),  # a disk mounted inside the tmpfs is a disk
        ("/dev/shmx", "ext4"),  # a prefix of the name is not inside
        ("/tmp", "ext4"),
        ("/mnt/my disk/x", "xfs"),
    ],
)
def test_the_mount_holding_a_path_decides_whether_it_is_in_memory(path: str, kind: str) -> None:
    assert sops_keyring.mount_type(MOUNTS, path) == kind
    assert sops_keyring.is_memory_backed(MOUNTS, path) == (kind == "tmpfs")
    assert sops_keyring.mount_type("", path) is None  # no /proc/mounts: not in memory


def test_a_later_mount_on_the_same_point_hides_the_earlier_one() -> None:
    over = MOUNTS + "/dev/vdd /dev/shm ext4 rw 0 0\n"
    assert not sops_keyring.is_memory_backed(over, "/dev/shm/x")


def test_no_tmpfs_means_no_pgp_and_nothing_written(tmp_path: Path) -> None:
    shm = tmp_path / "shm"
    shm.mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"/dev/vda / ext4 rw 0 0\n/dev/vdb {tmp_path} ext4 rw 0 0\n")
    with pytest.raises(SopsError, match=r"memory-backed .* \(tmpfs\) .* never written to disk"):
        sops_keyring.memory_dir(str(shm), str(mounts))
    assert list(shm.iterdir()) == []
    # The same directory listed as a tmpfs gets a private (0700) keyring directory.
    mounts.write_text(f"tmpfs {shm} tmpfs rw 0 0\n")
    made = Path(sops_keyring.memory_dir(str(shm), str(mounts)))
    assert made.parent == shm and made.stat().st_mode & 0o777 == 0o700


async def test_pgp_keys_on_a_machine_without_tmpfs_are_refused_before_gpg_runs(
    tmp_path: Path,
) -> None:
    keys = SopsKeys("demo/k", (), (KEY,))
    with pytest.raises(SopsError, match="memory-backed") as caught:
        async with sops_keyring.pgp_home(
            keys, gpg="/nonexistent/gpg", time_limit=5, shm=str(tmp_path)
        ):
            pytest.fail("no keyring may be made on a disk")
    assert "SECRETBODY" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


async def test_without_pgp_keys_no_keyring_is_made_and_gpg_is_not_needed() -> None:
    async with sops_keyring.pgp_home(SopsKeys("demo/k", ("AGE",)), gpg=None, time_limit=5) as g:
        assert g is None
    with pytest.raises(SopsError, match=r"holds PGP keys .* gpg is not installed .*gnupg"):
        async with sops_keyring.pgp_home(SopsKeys("demo/k", (), (KEY,)), gpg=None, time_limit=5):
            pytest.fail("unreachable")


def test_gpg_imports_from_stdin_in_batch_mode_and_never_asks() -> None:
    argv = sops_keyring.import_argv("/usr/bin/gpg")
    assert argv[0] == "/usr/bin/gpg" and argv[-1] == "--import"  # no file: keys come on stdin
    assert {"--batch", "--no-tty"} <= set(argv)
    assert argv[argv.index("--pinentry-mode") + 1] == "error"
    gnupg = GnuPG("/usr/bin/gpg", "/dev/shm/driftless-gnupg-x")
    assert sops_keyring.keyinfo_argv(gnupg)[0] == "/usr/bin/gpg-connect-agent"
    env = gnupg.environment()
    assert env["GNUPGHOME"] == "/dev/shm/driftless-gnupg-x" and "PATH" not in env


def test_passphrase_protected_keys_are_told_from_the_agent_keyinfo() -> None:
    keyinfo = (
        "S KEYINFO 7A1C8CBB1B14267C4F348BCCC88178FC58160F0C D - - - P - - -\n"
        "S KEYINFO 63C5C7B902B35E9306E18F0769F43C7332850082 D - - - C - - -\n"
        "S KEYINFO short\n"
        "OK\n"
    )
    assert sops_keyring.protected_keygrips(keyinfo) == ["7A1C8CBB1B14267C4F348BCCC88178FC58160F0C"]
    assert sops_keyring.protected_keygrips("OK\n") == []
