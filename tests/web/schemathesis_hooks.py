"""schemathesis hooks for tests/web/test_api_contract.py (named in schemathesis.toml).

The API's file parts are pictures (a report's photos, an after-photo), decoded by Pillow: only
a real JPEG, PNG or WebP picture is one, which no OpenAPI schema can state. schemathesis fills
a `format: binary` string with sample files (GIF, PDF, ZIP) or random bytes; here with real
small pictures, so reports with photos get past the picture check. Values of the wrong type,
or too many photos, still reach the checks that expect a refusal.
"""

from __future__ import annotations

import io
import uuid
from typing import Any

import schemathesis
from hypothesis import strategies as st
from PIL import Image
from schemathesis.generation.meta import CoverageScenario
from schemathesis.transport.serialization import Binary


def picture(kind: str, colour: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(out, kind)
    return out.getvalue()


PICTURES = [picture(kind, (200, 30, 30)) for kind in ("JPEG", "PNG", "WEBP")]
schemathesis.openapi.format("binary", st.sampled_from(PICTURES).map(Binary))


@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    """A client sends a new Idempotency-Key with each new request (README "Retrying safely");
    the same key with another body is refused (422) by contract, which no schema can state,
    and schemathesis sends one generated key with many bodies. A key the document allows
    becomes a fresh one before each call; one it forbids is left to be refused."""
    phase = getattr(getattr(case, "meta", None), "phase", None)
    scenario = getattr(getattr(phase, "data", None), "scenario", None)
    if scenario == CoverageScenario.MISSING_PARAMETER:
        return  # a case drawn to lack a header: changing it would make it another case
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and 16 <= len(key) <= 255 and all(33 <= ord(c) <= 126 for c in key):
        case.headers["Idempotency-Key"] = f"st-{uuid.uuid4()}"
