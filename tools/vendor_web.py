"""Refresh the scripts of the web pages (/app) in app/static/vendor/web (`make vendor`).

Like tools/vendor_docs.py: `npm pack` fetches each tarball into a temp dir (nothing installed,
no install scripts run); only the files the pages load, and the licences, are copied, and
app/static/vendor/web/vendor.json records each package's version, licence, bytes and sha256.
axe-core is vendored for the browser tests (tests/web), never loaded by the pages.
"""

import hashlib
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from vendor_docs import _SOURCE_MAP

WEB = Path(__file__).resolve().parent.parent / "app" / "static" / "vendor" / "web"
PACKAGES = {
    "d3": ("7.9.0", ("dist/d3.min.js", "LICENSE")),
    "@observablehq/plot": ("0.6.16", ("dist/plot.umd.min.js", "LICENSE")),
    "axe-core": ("4.10.2", ("axe.min.js", "LICENSE")),
}


def _pack(name: str, version: str, files: tuple[str, ...], into: Path) -> dict[str, object]:
    import subprocess

    out = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(into), f"{name}@{version}"],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = into / json.loads(out.stdout)[0]["filename"]
    unpacked = into / name.replace("/", "_")
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="data")
    package = unpacked / "package"
    meta = json.loads((package / "package.json").read_text())
    target = WEB / name.rsplit("/", 1)[-1]
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    record = {}
    for relative in files:
        data = _SOURCE_MAP.sub(b"\n", (package / relative).read_bytes())
        (target / Path(relative).name).write_bytes(data)
        record[Path(relative).name] = {
            "from": relative,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return {"version": meta["version"], "license": meta["license"], "files": record}


def main() -> None:
    if shutil.which("npm") is None:
        sys.exit("make vendor needs npm")
    record = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, files) in PACKAGES.items():
            record[name] = _pack(name, version, files, Path(tmp))
    (WEB / "vendor.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
