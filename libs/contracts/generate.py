"""Generates the Python stubs for every contract in proto/ into src/.

Run by `make proto` (and so by `make run` and `make test`) and by image builds;
the output is not committed.
"""

import pathlib
import shutil
import sys

from grpc_tools import protoc

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "proto"
OUT_DIR = pathlib.Path(__file__).resolve().parent / "src"


def main() -> int:
    shutil.rmtree(OUT_DIR / "trademesh", ignore_errors=True)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    protos = sorted(str(p.relative_to(PROTO_DIR)) for p in PROTO_DIR.rglob("*.proto"))
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={OUT_DIR}",
            f"--pyi_out={OUT_DIR}",
            f"--grpc_python_out={OUT_DIR}",
            *protos,
        ]
    )
    if code != 0:
        return code
    (OUT_DIR / "trademesh" / "py.typed").touch()
    print(f"generated stubs for {len(protos)} proto files into {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
