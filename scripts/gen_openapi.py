"""Generate docs/openapi.json: botport's own HTTP API as the server describes it at /openapi.json.

python scripts/gen_openapi.py          # rewrite docs/openapi.json
python scripts/gen_openapi.py --check  # exit 1 if docs/openapi.json is out of date (CI)
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from botport.app import create_app
from botport.settings import Settings

DOCS = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"


def render() -> str:
    # Demo settings: the document does not depend on the token, the bots or the data dir.
    with tempfile.TemporaryDirectory() as data_dir:
        app = create_app(Settings(data_dir=Path(data_dir)))
        return json.dumps(app.openapi(), indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not DOCS.exists() or DOCS.read_text(encoding="utf-8") != text:
            print(f"{DOCS} is out of date: run python scripts/gen_openapi.py", file=sys.stderr)
            return 1
        return 0
    DOCS.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
