"""Photos checked by content and re-encoded before anyone sees them (rule 13), and the store
that keeps their bytes.

``process_image`` decodes an upload with Pillow whatever its name says: only JPEG, PNG and
WebP pass; more than ``MAX_BYTES`` is refused as too large, more than ``MAX_PIXELS`` as a
decompression bomb, before any pixel is decoded. The picture is turned upright (EXIF
orientation), shrunk to ``MAX_EDGE`` pixels on its long side and written anew without any
metadata, so EXIF, GPS and comments never leave the server. A thumbnail is made for lists.

``FileStore`` keeps bytes content-addressed under ``LAKSA_HOME/media`` (``ab/cd/<sha256>``):
the same photo twice is one file, and a file written by a transaction that then rolled back
is harmless (nothing names it).
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from PIL import Image
from PIL import ImageOps
from PIL import UnidentifiedImageError

from engine.errors import InvalidInput
from engine.errors import TooLarge

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 40-megapixel photo; a phone's is 12 to 50 after downsampling
MAX_EDGE = 2048
THUMB_EDGE = 480
_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# What Pillow may call a format we take: phones write JPEGs with an MPF segment, opened as MPO.
_AS = {"MPO": "JPEG"}


class PhotoRefused(InvalidInput):
    """A photo refused for what it is; ``reason`` names why for pages that explain it."""

    def __init__(self, reason: str, message: str, *, field: str) -> None:
        super().__init__(message, fields={field: [message]})
        self.reason = reason  # empty | not_image | damaged | too_many_pixels


class PhotoTooLarge(TooLarge):
    reason = "too_large"


@dataclass(frozen=True)
class ProcessedImage:
    data: bytes
    mime: str
    width: int
    height: int
    thumb: bytes  # a JPEG of at most THUMB_EDGE pixels

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def process_image(data: bytes, *, field: str = "photos") -> ProcessedImage:
    """Check an upload by its content and re-encode it without metadata, or raise."""

    def refuse(reason: str, message: str) -> PhotoRefused:
        return PhotoRefused(reason, message, field=field)

    if len(data) > MAX_BYTES:
        message = f"a photo may be at most {MAX_BYTES // (1024 * 1024)} MB"
        raise PhotoTooLarge(message, fields={field: [message]})
    if not data:
        raise refuse("empty", "the file is empty")

    def too_many(width: int | None, height: int | None) -> PhotoRefused:
        size = f"{width} x {height} pixels; " if width and height else ""
        return refuse(
            "too_many_pixels",
            f"the picture is too large ({size}at most {MAX_PIXELS // 1_000_000} megapixels)",
        )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=list(_FORMATS))
            if image.width * image.height > MAX_PIXELS:
                raise too_many(image.width, image.height)
            fmt = _AS.get(image.format or "", image.format or "")
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise too_many(None, None) from None  # beyond Pillow's own limit, before any pixel
    except UnidentifiedImageError:
        raise refuse("not_image", "not a JPEG, PNG or WebP picture") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise refuse("damaged", "the picture is damaged and cannot be read") from None
    upright = ImageOps.exif_transpose(image)
    upright.thumbnail((MAX_EDGE, MAX_EDGE))
    clean = _without_metadata(upright, fmt)
    out = io.BytesIO()
    if fmt == "JPEG":
        clean.save(out, "JPEG", quality=85, optimize=True)
    elif fmt == "PNG":
        clean.save(out, "PNG", optimize=True)
    else:
        clean.save(out, "WEBP", quality=85)
    thumb = clean.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))
    thumb_out = io.BytesIO()
    _rgb(thumb).save(thumb_out, "JPEG", quality=80, optimize=True)
    return ProcessedImage(
        out.getvalue(), _FORMATS[fmt], clean.width, clean.height, thumb_out.getvalue()
    )


def _without_metadata(image: Image.Image, fmt: str) -> Image.Image:
    """The pixels alone: a new image, so no EXIF, XMP, ICC or text chunk is carried over."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits (a plain convert clips everything to white)
        image = image.point(lambda v: v / 256).convert("L")
    if fmt == "JPEG":
        image = _rgb(image)
    elif image.mode not in ("RGB", "RGBA", "L", "LA"):
        transparent = "A" in image.getbands() or "transparency" in image.info
        image = image.convert("RGBA" if transparent else "RGB")
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    return clean


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        return image.point(lambda v: v / 256).convert("L")
    if "A" in image.getbands() or image.mode == "P":
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return image.convert("RGB")


class MediaStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store bytes; return their SHA-256 (the key)."""
        ...

    def get(self, key: str) -> bytes:
        """The bytes stored under ``key``; FileNotFoundError if none."""
        ...


class FileStore:
    """The embedded default: content-addressed files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise FileNotFoundError(key)
        return self.root / key[:2] / key[2:4] / key

    def put(self, data: bytes) -> str:
        key = hashlib.sha256(data).hexdigest()
        path = self._path(key)
        if path.exists():
            return key
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write aside and rename, so a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".up-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
        return key

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()


def media_store(home: Path) -> FileStore:
    return FileStore(home / "media")
