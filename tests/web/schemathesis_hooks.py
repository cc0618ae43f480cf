"""schemathesis hooks for tests/web/test_api_contract.py (named in schemathesis.toml).

The API's file parts are pictures (a report's photos, an after-photo), decoded by Pillow: only
a real JPEG, PNG or WebP picture is one, which no OpenAPI schema can state. schemathesis fills
a `format: binary` string with sample files (GIF, PDF, ZIP) or random bytes; here with real
small pictures, so reports with photos get past the picture check. Values of the wrong type,
or too many photos, still reach the checks that expect a refusal.
"""

from __future__ import annotations

import io

import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.transport.serialization import Binary


def picture(kind: str, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, kind)
    return out.getvalue()


PICTURES = [picture(kind, (200, 30, 30)) for kind in ("JPEG", "PNG", "WEBP")]
schemathesis.openapi.format("binary", st.sampled_from(PICTURES).map(Binary))
