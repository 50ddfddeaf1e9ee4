"""Refresh the scripts and styles of /docs and /redoc in app/static/vendor (`make vendor`).

The app serves them itself so the docs work with no internet (hospitals). `npm pack` fetches
each package's tarball into a temp dir (nothing is installed, no install scripts run); only the
files the pages load, and the licences, are copied, without source-map comments, and
vendor.json records each package's version, licence and files. Bump a version below, run
`make vendor`, check /docs and /redoc, and commit the result.
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
# package -> (version, files taken from the tarball's package/ folder)
PACKAGES = {
    "swagger-ui-dist": (
        "5.35.0",
        ("swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"),
    ),
    "redoc": (
        "2.5.4",
        ("bundles/redoc.standalone.js", "bundles/redoc.standalone.js.LICENSE.txt", "LICENSE"),
    ),
}
_SOURCE_MAP = re.compile(rb"\n?(//# sourceMappingURL=\S+|/\*# sourceMappingURL=\S+ ?\*/)\s*$")


def _pack(name: str, version: str, into: Path) -> dict[str, object]:
    """Fetch name@version with `npm pack` and copy its files into VENDOR/name."""
    out = subprocess.run(
        ["npm", "pack", "--json", "--pack-destination", str(into), f"{name}@{version}"],
        check=True,
        capture_output=True,
        text=True,
    )
    tarball = into / json.loads(out.stdout)[0]["filename"]
    unpacked = into / name
    with tarfile.open(tarball) as tar:
        tar.extractall(unpacked, filter="data")
    package = unpacked / "package"
    meta = json.loads((package / "package.json").read_text())
    target = VENDOR / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    files = {}
    for relative in PACKAGES[name][1]:
        data = (package / relative).read_bytes()
        if relative.endswith((".js", ".css")):
            data = _SOURCE_MAP.sub(b"\n", data)
        (target / Path(relative).name).write_bytes(data)
        files[Path(relative).name] = {
            "from": relative,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
        }
    return {"version": meta["version"], "license": meta["license"], "files": files}


def main() -> None:
    if shutil.which("npm") is None:
        sys.exit("make vendor needs npm")
    record = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (version, _files) in PACKAGES.items():
            record[name] = _pack(name, version, Path(tmp))
    (VENDOR / "vendor.json").write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
