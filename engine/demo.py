"""Reference data every city needs, and the demo city of `laksa init --demo`."""

from __future__ import annotations

import secrets
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.identity import create_user
from engine.identity import ensure_group
from engine.models import Category
from engine.models import Kecamatan
from engine.models import User

DESKS = {
    "verifier": "Verifier desk (Meja verifikasi)",
    "supervisor": "Supervisors (Inspektorat / Bagian Organisasi)",
}

# Real OPDs of Kota Tangerang, with the categories routing.dmn sends to each.
OPDS = {
    "dpupr": (
        "Dinas Pekerjaan Umum dan Penataan Ruang",
        {
            "jalan_rusak": "Jalan rusak",
            "drainase": "Drainase / saluran air",
            "penerangan_jalan": "Penerangan jalan umum",
        },
    ),
    "dlh": (
        "Dinas Lingkungan Hidup",
        {
            "sampah": "Sampah tidak terangkut",
            "pohon_tumbang": "Pohon tumbang",
            "taman": "Taman kota",
        },
    ),
    "dishub": (
        "Dinas Perhubungan",
        {
            "lalu_lintas": "Lalu lintas",
            "parkir_liar": "Parkir liar",
            "angkutan_umum": "Angkutan umum",
        },
    ),
    "disdukcapil": (
        "Dinas Kependudukan dan Pencatatan Sipil",
        {"adminduk": "Administrasi kependudukan (KTP, KK, akta)"},
    ),
    "disperkimtan": (
        "Dinas Perumahan, Permukiman dan Pertanahan",
        {"perumahan": "Perumahan dan permukiman", "pemakaman": "Pemakaman"},
    ),
}
# The 13 kecamatan of Kota Tangerang.
KECAMATAN = (
    "Batuceper",
    "Benda",
    "Cibodas",
    "Ciledug",
    "Cipondoh",
    "Jatiuwung",
    "Karangtengah",
    "Karawaci",
    "Larangan",
    "Neglasari",
    "Periuk",
    "Pinang",
    "Tangerang",
)
# English names of the categories above (category.name_en; the API's labels.en).
CATEGORY_EN = {
    "jalan_rusak": "Damaged road",
    "drainase": "Drainage / waterways",
    "penerangan_jalan": "Street lighting",
    "sampah": "Rubbish not collected",
    "pohon_tumbang": "Fallen tree",
    "taman": "City parks",
    "lalu_lintas": "Traffic",
    "parkir_liar": "Illegal parking",
    "angkutan_umum": "Public transport",
    "adminduk": "Civil registration (ID card, family card, certificates)",
    "perumahan": "Housing and settlements",
    "pemakaman": "Cemeteries",
}
INFRASTRUCTURE = {"jalan_rusak", "drainase", "penerangan_jalan", "pohon_tumbang", "taman"}

DEMO_USERS = [
    ("warga", "citizen", []),
    ("verifikator", "verifier", ["verifier"]),
    ("petugas_dpupr", "officer", ["dpupr"]),
    ("kepala_dpupr", "opd_head", ["dpupr", "dpupr_head"]),
    ("petugas_dlh", "officer", ["dlh"]),
    ("pengawas", "supervisor", ["supervisor"]),
    ("perancang", "designer", []),
    ("auditor", "auditor", []),
    ("admin", "admin", ["verifier", "supervisor"]),
]


def ensure_reference_data(session: Session) -> None:
    """Desk groups the workflows' lanes name; always present."""
    for code, name in DESKS.items():
        ensure_group(session, code=code, name=name, kind="desk")
    session.flush()


def ensure_demo_city(session: Session) -> None:
    for code, (name, categories) in OPDS.items():
        ensure_group(session, code=code, name=name, kind="opd")
        ensure_group(session, code=f"{code}_head", name=f"Kepala {name}", kind="opd_head")
        for cat_code, cat_name in categories.items():
            category = session.get(Category, cat_code)
            if category is None:
                session.add(
                    Category(
                        code=cat_code,
                        name=cat_name,
                        name_en=CATEGORY_EN.get(cat_code),
                        infrastructure=cat_code in INFRASTRUCTURE,
                        active=True,
                    )
                )
            elif category.name_en is None:  # a database from before English names
                category.name_en = CATEGORY_EN.get(cat_code)
    for name in KECAMATAN:
        code = name.lower()
        if session.get(Kecamatan, code) is None:
            session.add(Kecamatan(code=code, name=name))
    session.flush()


def ensure_demo_users(session: Session, home: Path, *, now: datetime) -> list[str]:
    """Create the demo users once; their passwords are kept in the instance folder."""
    ensure_demo_city(session)
    store = home / "demo-credentials.txt"
    known: dict[str, str] = {}
    if store.exists():
        for line in store.read_text().splitlines():
            name, _, stored = line.partition(" ")
            known[name] = stored
    lines = []
    for username, role, groups in DEMO_USERS:
        exists = session.scalar(select(User.id).where(User.username == username)) is not None
        password = known.get(username)
        if not exists:
            password = password or secrets.token_urlsafe(9)
            assert password is not None
            create_user(
                session, username=username, password=password, role=role, groups=groups, now=now
            )
            known[username] = password
        lines.append(
            f"{username:<14} {password or '(set before; see admin)'}  {role:<10} "
            f"{','.join(groups) or '-'}"
        )
    home.mkdir(parents=True, exist_ok=True)
    store.write_text("".join(f"{k} {v}\n" for k, v in known.items()))
    store.chmod(0o600)
    return lines
