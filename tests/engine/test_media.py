"""Photos are checked by content and re-encoded before anyone sees them (rule 13).

``process_image`` decides by what the bytes are, never by a name: JPEG, PNG and WebP pass,
re-encoded without any metadata (EXIF, GPS, text chunks), turned upright and shrunk; anything
else is refused with a message on the form's field. ``FileStore`` keeps the bytes
content-addressed and answers only to well-formed keys.
"""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib
from pathlib import Path

import pytest
from PIL import Image
from PIL import PngImagePlugin

from engine import media
from engine.errors import InvalidInput
from engine.errors import TooLarge
from engine.media import MAX_BYTES
from engine.media import MAX_EDGE
from engine.media import MAX_PIXELS
from engine.media import THUMB_EDGE
from engine.media import FileStore
from engine.media import process_image

GPS_IFD = 0x8825
ORIENTATION = 0x0112
IMAGE_DESCRIPTION = 0x010E


# -- builders --------------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **params)
    return out.getvalue()


def gps_exif(orientation: int | None = None) -> Image.Exif:
    """EXIF that says where the photo was taken (Tangerang), as a phone writes it."""
    exif = Image.Exif()
    exif[IMAGE_DESCRIPTION] = "rumah Budi"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "S"  # GPSLatitudeRef
    gps[2] = (6.0, 10.0, 30.0)  # GPSLatitude
    gps[3] = "E"  # GPSLongitudeRef
    gps[4] = (106.0, 37.0, 50.0)  # GPSLongitude
    return exif


def jpeg_with_gps(size: tuple[int, int] = (120, 80), orientation: int | None = None) -> bytes:
    return encode(Image.new("RGB", size, (10, 120, 200)), "JPEG", exif=gps_exif(orientation))


def png_with_ihdr(width: int, height: int) -> bytes:
    """A 1 x 1 PNG whose header claims ``width`` x ``height`` (CRC fixed): a bomb's header."""
    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def refusal(data: bytes) -> InvalidInput:
    with pytest.raises(InvalidInput) as error:
        process_image(data)
    return error.value


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# -- what passes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_jpeg_png_and_webp_are_accepted_and_keep_their_type(fmt, mime):
    source = encode(Image.new("RGB", (100, 60), (40, 160, 90)), fmt)
    result = process_image(source)
    assert result.mime == mime
    assert (result.width, result.height) == (100, 60)
    assert opened(result.data).format == fmt
    assert opened(result.data).size == (100, 60)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()


def test_the_type_comes_from_the_content_not_the_name():
    # process_image is given no name; a PNG stays a PNG whatever the upload said
    png = encode(Image.new("RGB", (30, 30)), "PNG")
    assert process_image(png, field="after_photo").mime == "image/png"


def test_a_transparent_png_keeps_its_alpha_and_its_thumbnail_is_flattened():
    source = encode(Image.new("RGBA", (50, 50), (255, 0, 0, 0)), "PNG")
    result = process_image(source)
    assert opened(result.data).mode == "RGBA"
    thumb = opened(result.thumb)
    assert thumb.format == "JPEG"
    assert thumb.getpixel((25, 25)) == pytest.approx((255, 255, 255), abs=3)  # on white


def test_a_palette_and_a_cmyk_picture_are_re_encoded():
    palette = encode(Image.new("P", (40, 40), 3), "PNG")
    cmyk = encode(Image.new("CMYK", (40, 40), (0, 255, 255, 0)), "JPEG")
    assert opened(process_image(palette).data).mode in ("RGB", "RGBA")
    assert opened(process_image(cmyk).data).mode == "RGB"


def test_a_multi_picture_jpeg_from_a_phone_is_accepted_as_a_jpeg():
    first = Image.new("RGB", (40, 30), (200, 0, 0))
    depth = Image.new("RGB", (40, 30), (0, 0, 200))
    source = encode(first, "MPO", save_all=True, append_images=[depth])
    assert source[:2] == b"\xff\xd8"  # a JPEG to every viewer
    result = process_image(source)
    assert result.mime == "image/jpeg"
    assert opened(result.data).format == "JPEG"
    assert (result.width, result.height) == (40, 30)


def test_a_palette_pngs_transparency_survives():
    image = Image.new("P", (20, 20), 0)
    image.putpalette([0, 0, 0, 255, 0, 0])
    image.paste(1, (10, 0, 20, 20))
    result = process_image(encode(image, "PNG", transparency=0))
    upright = opened(result.data).convert("RGBA")
    assert upright.getpixel((5, 5))[3] == 0  # still transparent
    assert upright.getpixel((15, 5)) == (255, 0, 0, 255)


def test_a_sixteen_bit_greyscale_png_keeps_its_tones():
    image = Image.new("I;16", (20, 20), 32768)  # mid-grey in 16 bits
    result = process_image(encode(image, "PNG"))
    grey = opened(result.data).convert("L").getpixel((5, 5))
    assert 100 <= grey <= 156


# -- metadata never survives -------------------------------------------------------------------


def test_gps_exif_never_survives_re_encoding():
    source = jpeg_with_gps()
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(GPS_IFD)  # the fixture has GPS
    assert b"Exif" in source
    result = process_image(source)
    assert dict(opened(result.data).getexif()) == {}
    assert b"Exif" not in result.data
    assert b"rumah Budi" not in result.data
    assert b"Exif" not in result.thumb
    assert dict(opened(result.thumb).getexif()) == {}


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_exif_is_dropped_from_png_and_webp_too(fmt):
    source = encode(Image.new("RGB", (40, 30)), fmt, exif=gps_exif())
    assert Image.open(io.BytesIO(source)).getexif()  # the fixture carries EXIF
    result = process_image(source)
    assert dict(opened(result.data).getexif()) == {}
    assert b"Exif" not in result.data
    assert b"rumah Budi" not in result.data


def test_exif_orientation_is_applied_so_width_and_height_swap():
    # stored 120 wide, 80 high; orientation 6 says "rotate 90 degrees clockwise to view"
    result = process_image(jpeg_with_gps((120, 80), orientation=6))
    assert (result.width, result.height) == (80, 120)
    assert opened(result.data).size == (80, 120)
    assert ORIENTATION not in opened(result.data).getexif()  # not applied twice by a viewer
    thumb = opened(result.thumb)
    assert thumb.height > thumb.width


def test_the_orientation_turns_the_pixels_not_only_the_size():
    image = Image.new("RGB", (100, 50), (0, 0, 255))
    image.paste((255, 0, 0), (0, 0, 50, 50))  # left half red, right half blue
    exif = Image.Exif()
    exif[ORIENTATION] = 6  # viewed rotated 90 degrees clockwise: the left half goes on top
    result = process_image(encode(image, "PNG", exif=exif))
    upright = opened(result.data).convert("RGB")
    assert upright.size == (50, 100)
    top = upright.getpixel((25, 10))
    bottom = upright.getpixel((25, 90))
    assert (top[0] > 200, top[2] < 50) == (True, True)  # red
    assert (bottom[2] > 200, bottom[0] < 50) == (True, True)  # blue


def test_png_text_chunks_are_dropped():
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "rumah Budi di Jl. Sudirman 12")
    info.add_itxt("Location", "-6.17,106.63")
    source = encode(Image.new("RGB", (40, 40)), "PNG", pnginfo=info)
    assert b"rumah Budi" in source
    result = process_image(source)
    assert b"rumah Budi" not in result.data
    assert b"-6.17" not in result.data
    for chunk in (b"tEXt", b"iTXt", b"zTXt", b"eXIf"):
        assert chunk not in result.data
    assert getattr(opened(result.data), "text", {}) == {}


# -- sizes ------------------------------------------------------------------------------------


def test_the_long_edge_is_capped_at_max_edge_keeping_the_aspect():
    source = encode(Image.new("RGB", (MAX_EDGE * 2, MAX_EDGE)), "JPEG", quality=30)
    result = process_image(source)
    assert (result.width, result.height) == (MAX_EDGE, MAX_EDGE // 2)
    assert opened(result.data).size == (MAX_EDGE, MAX_EDGE // 2)


def test_a_small_picture_is_not_enlarged():
    result = process_image(encode(Image.new("RGB", (33, 21)), "PNG"))
    assert (result.width, result.height) == (33, 21)
    assert opened(result.thumb).size == (33, 21)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_the_thumbnail_is_a_jpeg_of_at_most_thumb_edge(fmt):
    result = process_image(encode(Image.new("RGB", (1600, 900)), fmt))
    thumb = opened(result.thumb)
    assert thumb.format == "JPEG"
    assert max(thumb.size) == THUMB_EDGE
    assert thumb.size == (THUMB_EDGE, 270)


# -- what is refused --------------------------------------------------------------------------


def test_an_empty_file_is_refused_on_the_photos_field():
    error = refusal(b"")
    assert not isinstance(error, TooLarge)
    assert error.fields["photos"] == [error.message]
    assert "empty" in error.message


def test_the_refusal_names_the_field_it_was_asked_for():
    with pytest.raises(InvalidInput) as error:
        process_image(b"", field="after_photo")
    assert list(error.value.fields) == ["after_photo"]


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"Lubang besar di Jl. Sudirman\n" * 20, id="text_named_jpg"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" '
            b'height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>',
            id="svg",
        ),
        pytest.param(encode(Image.new("P", (20, 20)), "GIF"), id="gif"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "BMP"), id="bmp"),
        pytest.param(encode(Image.new("RGB", (20, 20)), "TIFF"), id="tiff"),
    ],
)
def test_anything_but_jpeg_png_or_webp_is_refused(content):
    error = refusal(content)
    assert not isinstance(error, TooLarge)
    assert error.fields == {"photos": [error.message]}
    assert "JPEG, PNG or WebP" in error.message


def test_a_truncated_jpeg_is_refused_as_damaged():
    whole = encode(Image.effect_noise((400, 300), 60).convert("RGB"), "JPEG")
    error = refusal(whole[: len(whole) // 2])
    assert error.fields == {"photos": [error.message]}
    assert "damaged" in error.message


def test_a_picture_over_ten_megabytes_is_too_large_before_it_is_read():
    started = time.perf_counter()
    with pytest.raises(TooLarge) as error:
        process_image(b"\xff\xd8\xff" + b"\0" * MAX_BYTES)
    assert time.perf_counter() - started < 1
    assert isinstance(error.value, InvalidInput)  # pages that catch InvalidInput still see it
    assert error.value.fields == {"photos": [error.value.message]}
    assert "10 MB" in error.value.message


def test_exactly_ten_megabytes_is_not_too_large():
    with pytest.raises(InvalidInput) as error:  # not a picture, but not refused for its size
        process_image(b"x" * MAX_BYTES)
    assert not isinstance(error.value, TooLarge)


def test_a_bomb_whose_header_claims_fifty_thousand_squared_is_refused_without_decoding():
    bomb = png_with_ihdr(50_000, 50_000)
    assert len(bomb) < 100
    assert struct.unpack(">II", bomb[16:24]) == (50_000, 50_000)  # the header says so
    started = time.perf_counter()
    error = refusal(bomb)
    assert time.perf_counter() - started < 1
    assert error.fields == {"photos": [error.message]}


def test_just_over_max_pixels_is_refused_as_too_many_pixels():
    # 7000 x 7000 = 49 megapixels: over MAX_PIXELS, under Pillow's own bomb limit
    assert MAX_PIXELS < 7000 * 7000
    error = refusal(png_with_ihdr(7000, 7000))
    assert "7000 x 7000 pixels" in error.message
    assert "40 megapixels" in error.message


@pytest.mark.parametrize(("width", "height"), [(50_000, 50_000), (12_000, 12_000)])
def test_a_huge_picture_is_refused_for_its_pixels_not_as_a_non_picture(width, height):
    error = refusal(png_with_ihdr(width, height))
    assert "pixels" in error.message
    assert "JPEG, PNG or WebP" not in error.message


# -- the store --------------------------------------------------------------------------------


def test_the_store_is_content_addressed_one_file_per_content(tmp_path: Path):
    store = FileStore(tmp_path / "media")
    data = process_image(jpeg_with_gps()).data
    key = store.put(data)
    assert key == hashlib.sha256(data).hexdigest()
    assert store.put(data) == key
    files = [p for p in (tmp_path / "media").rglob("*") if p.is_file()]
    assert files == [tmp_path / "media" / key[:2] / key[2:4] / key]
    assert store.get(key) == data
    other = store.put(data + b"\0")
    assert other != key
    assert len([p for p in (tmp_path / "media").rglob("*") if p.is_file()]) == 2


def test_the_store_leaves_no_temporary_files_behind(tmp_path: Path):
    store = FileStore(tmp_path)
    store.put(b"one")
    store.put(b"one")
    assert not list(tmp_path.rglob(".up-*"))


def test_media_store_lives_under_laksa_home_media(tmp_path: Path):
    store = media.media_store(tmp_path)
    key = store.put(b"abc")
    assert (tmp_path / "media" / key[:2] / key[2:4] / key).read_bytes() == b"abc"


@pytest.mark.parametrize(
    "key",
    [
        "0" * 64,  # well formed, never stored
        "../../etc/passwd",
        "../" * 21 + "a",  # 64 characters of traversal
        "/etc/passwd",
        "A" * 64,  # upper case is not a key the store writes
        "a" * 63,
        "a" * 65,
        "",
        "ab/cd/" + "a" * 58,
    ],
)
def test_get_of_an_unknown_or_malformed_key_is_file_not_found(tmp_path: Path, key):
    store = FileStore(tmp_path / "media")
    store.put(b"something")
    with pytest.raises(FileNotFoundError):
        store.get(key)


def test_a_malformed_key_never_reaches_the_file_system(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do not serve")
    store = FileStore(tmp_path / "media" / "x")
    with pytest.raises(FileNotFoundError):
        store.get("../../secret.txt")
