"""Helpers of the browser tests: photos to upload, and the officers' side through the real API."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from PIL import Image

GPS_IFD = 0x8825


def pothole_photos(folder: Path) -> list[Path]:
    """A JPEG carrying camera and GPS EXIF, and a PNG: what a phone would send."""
    jpeg = folder / "lubang.jpg"
    image = Image.new("RGB", (1600, 1200), (128, 116, 96))
    image.paste((35, 35, 35), (600, 500, 1000, 700))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Phone 12"
    exif[GPS_IFD] = {1: "S", 2: (6.0, 10.0, 41.0), 3: "E", 4: (106.0, 37.0, 54.0)}
    image.save(jpeg, "JPEG", exif=exif.tobytes())
    png = folder / "lubang-dekat.png"
    Image.new("RGB", (800, 600), (90, 90, 90)).save(png)
    return [jpeg, png]


def after_photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1200, 900), (60, 60, 60)).save(out, "JPEG")
    return out.getvalue()


class Officers:
    """The verifier desk and the OPD acting through /api/v1 over real HTTP."""

    def __init__(self, request: Any, base: str, tokens: dict[str, str]) -> None:
        self.request, self.base, self.tokens = request, base, tokens

    def _auth(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def task(self, user: str, number: str) -> dict[str, Any]:
        response = self.request.get(f"{self.base}/api/v1/tasks", headers=self._auth(user))
        assert response.ok, response.text()
        (task,) = [t for t in response.json() if t["ticket"] == number]
        return task  # type: ignore[no-any-return]

    def complete(self, user: str, number: str, data: dict[str, Any]) -> dict[str, Any]:
        task = self.task(user, number)
        response = self.request.post(
            f"{self.base}/api/v1/tasks/{task['id']}/complete",
            headers=self._auth(user),
            data={"data": data, "version": task["version"]},
        )
        assert response.ok, response.text()
        return response.json()  # type: ignore[no-any-return]

    def upload_after_photo(self, user: str, number: str) -> int:
        response = self.request.post(
            f"{self.base}/api/v1/tickets/{number}/attachments",
            headers=self._auth(user),
            multipart={
                "purpose": "after",
                "photo": {"name": "sesudah.jpg", "mimeType": "image/jpeg", "buffer": after_photo()},
            },
        )
        assert response.status == 201, response.text()
        return int(response.json()["id"])

    def to_question(self, number: str, question: str) -> None:
        self.complete("verifikator", number, {"decision": "route"})
        self.complete("petugas_dpupr", number, {"decision": "accept", "complexity": "simple"})
        self.complete("petugas_dpupr", number, {"decision": "need_info", "question": question})

    def resolve(self, number: str, resolution: str) -> None:
        photo = self.upload_after_photo("petugas_dpupr", number)
        self.complete(
            "petugas_dpupr",
            number,
            {"decision": "resolve", "resolution": resolution, "after_photo": photo},
        )

    def file(self, ticket: dict[str, Any], *, photo: bool = False) -> dict[str, Any]:
        """A report filed through the API (for states the test does not click through)."""
        if photo:
            response = self.request.post(
                f"{self.base}/api/v1/tickets",
                multipart={
                    "ticket": json.dumps(ticket),
                    "photos": {
                        "name": "foto.jpg",
                        "mimeType": "image/jpeg",
                        "buffer": after_photo(),
                    },
                },
            )
        else:
            response = self.request.post(f"{self.base}/api/v1/tickets", data=ticket)
        assert response.status == 201, response.text()
        return response.json()  # type: ignore[no-any-return]
