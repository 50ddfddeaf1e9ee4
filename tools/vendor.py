"""Refresh the vendored front-end files in app/static/vendor (`make vendor`).

The app serves every script and style itself, so /docs, /redoc and the web pages (/app) work on
a hospital network with no internet. `npm pack` fetches each package's tarball into a temp dir
(nothing is installed, no install scripts run); only the files the pages load, and the licences,
are copied, without source-map comments, and each bundle's vendor.json records each package's
version, licence, bytes and sha256 (tests/test_docs_offline.py checks them against the disk).
Bump a version below, run `make vendor`, check the pages, and commit the result.
axe-core is vendored for the browser tests (tests/web), never loaded by the pages.
"""

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "app" / "static" / "vendor"
# bundle folder -> package -> (version, files taken from the tarball's package/ folder)
BUNDLES: dict[Path, dict[str, tuple[str, tuple[str, ...]]]] = {
    VENDOR: {  # /docs and /redoc
        "swagger-ui-dist": (
            "5.35.0",
            ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"),
        ),
        "redoc": (
            "2.5.4",
            ("bundles/redoc.standalone.js", "bundles/redoc.standalone.js.LICENSE.txt", "LICENSE"),
        ),
    },
    VENDOR / "web": {  # the web pages, and axe-core for their tests
        "d3": ("7.9.0", ("dist/d3.min.js", "LICENSE")),
        "@observablehq/plot": ("0.6.16", ("dist/plot.umd.min.js", "LICENSE")),
        "axe-core": ("4.10.2", ("axe.min.js", "LICENSE")),
    },
}
_SOURCE_MAP = re.compile(rb"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ ?\*/)\s*$")


def _pack(
    name: str, version: str, files: tuple[str, ...], into: Path, bundle: Path
) -> dict[str, object]:
    """Fetch name@version with `npm pack` and copy its files into bundle/<last part of name>."""
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
    target = bundle / name.rsplit("/", 1)[-1]
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    record = {}
    for relative in files:
        data = (package / relative).read_bytes()
        if relative.endswith((".js", ".css")):
            data = _SOURCE_MAP.sub(b"\n", data)
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
    with tempfile.TemporaryDirectory() as tmp:
        for bundle, packages in BUNDLES.items():
            record = {
                name: _pack(name, version, files, Path(tmp), bundle)
                for name, (version, files) in packages.items()
            }
            (bundle / "vendor.json").write_text(json.dumps(record, indent=2) + "\n")
            print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
