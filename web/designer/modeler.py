"""The modeler page: the running bundle's BPMN, DMN, forms and statuses edited in the browser.

The page's script (web/designer-src, bundled into static/designer by `make assets`) reads and
writes through the designer's JSON endpoints (web/designer/api.py); this view only serves the
page and the words its script shows, in the page's language.
"""

from __future__ import annotations

from flask import render_template
from flask_babel import gettext as _

from web.designer import blp


def _laksa_words() -> dict[str, str]:
    """Labels and hints of the properties panel's LAKSA group (workflows/README.md)."""
    return {
        "prop.status": _("Status tiket"),
        "hint.status": _("Status yang dipasang saat elemen ini dicapai (statuses.json)."),
        "prop.formJsonSchemaFilename": _("Formulir"),
        "hint.formJsonSchemaFilename": _("Skema JSON formulir tugas ini (forms/)."),
        "prop.notify": _("Beri tahu"),
        "hint.notify": _("Siapa yang diberi tahu: opd, opd_head, supervisor, reporter, verifier."),
        "prop.escalation_level": _("Tingkat eskalasi"),
        "hint.escalation_level": _("0 mengatur ulang; angka lebih tinggi hanya menaikkan."),
        "prop.outcome": _("Hasil akhir"),
        "hint.outcome": _("Hasil tiket di akhir ini, mis. fixed, rejected, duplicate."),
        "prop.milestone": _("Tonggak statistik"),
        "hint.milestone": _("first_response atau resolution."),
        "prop.clock": _("Jam SLA"),
        "hint.clock": _("Nama jam yang dicatat, mis. verification, resolution."),
        "prop.clock_event": _("Peristiwa jam"),
        "hint.clock_event": _("start, pause, resume, fulfil, breach, …"),
        "prop.deadline": _("Tenggat"),
        "hint.deadline": _("true: timer ini menentukan tenggat tugas dan tiket."),
        "prop.incident": _("Insiden"),
        "prop.links_to": _("Tautkan ke"),
        "hint.links_to": _("Variabel yang berisi nomor tiket asal (duplikat)."),
        "timer.kind": _("Jenis timer"),
        "timer.timeDuration": _("Durasi (timeDuration)"),
        "timer.timeDate": _("Waktu (timeDate)"),
        "timer.timeCycle": _("Siklus (timeCycle)"),
        "timer.expression": _("Ekspresi timer"),
        "hint.timer": _(
            "Ekspresi Python di sandbox, mis. working_days(3) = akhir hari kerja ke-3; "
            "resolution_due = variabel berisi waktu ISO."
        ),
        "script": _("Skrip"),
        "hint.script": _("Python yang dijalankan di sandbox."),
        "decision": _("Keputusan DMN"),
        "hint.decision": _("Id keputusan yang dipanggil, mis. routing."),
        "postScript": _("Skrip sesudah tugas"),
        "hint.postScript": _("Python yang dijalankan saat tugas selesai."),
        "condition": _("Syarat alur"),
        "hint.condition": _('Ekspresi Python atas data proses, mis. decision == "reject".'),
        "lane.group": _("Grup"),
        "hint.lane": _("Kode grup petugas lajur ini; {opd} diambil dari data proses."),
    }


def _panel_words() -> dict[str, str]:
    """The properties panel's and the palette's own labels most often seen."""
    return {
        "General": _("Umum"),
        "Name": _("Nama"),
        "ID": _("ID"),
        "Documentation": _("Dokumentasi"),
        "Element documentation": _("Dokumentasi elemen"),
        "Process documentation": _("Dokumentasi proses"),
        "Executable": _("Dapat dijalankan"),
        "Message": _("Pesan"),
        "Signal": _("Sinyal"),
        "Value": _("Nilai"),
        "Type": _("Jenis"),
        "Create start event": _("Buat peristiwa mulai"),
        "Create end event": _("Buat peristiwa akhir"),
        "Create task": _("Buat tugas"),
        "Create gateway": _("Buat gerbang"),
        "Create pool/participant": _("Buat pool/partisipan"),
        "Activate hand tool": _("Alat geser"),
        "Activate lasso tool": _("Alat laso"),
        "Activate create/remove space tool": _("Alat ruang"),
        "Activate global connect tool": _("Alat sambung"),
        "Delete": _("Hapus"),
        "Append task": _("Tambah tugas"),
        "Connect to other element": _("Sambungkan ke elemen lain"),
        "Change element": _("Ganti jenis elemen"),
    }


def _page_words() -> dict[str, str]:
    return {
        "loading": _("Memuat versi yang berjalan…"),
        "load_failed": _("Versi yang berjalan tidak dapat dimuat. Muat ulang halaman."),
        "loaded": _("{count} berkas dimuat."),
        "import_warnings": _("Diagram dimuat dengan {count} peringatan."),
        "import_failed": _("{file} tidak dapat dibuka: {message}"),
        "group.bpmn": _("Diagram proses"),
        "group.dmn": _("Keputusan"),
        "group.forms": _("Formulir"),
        "group.other": _("Lainnya"),
        "json_invalid": _("JSON tidak sah: {message}"),
        "file_loaded": _("{file} dimuat dari komputer."),
        "line": _("baris {line}"),
        "bundle": _("paket"),
        "marked_on_diagram": _("ditandai di diagram"),
        "request_failed": _("Permintaan gagal. Coba lagi."),
        "check_ok": _("Pemeriksaan lolos: tidak ada masalah, {changes} perubahan."),
        "check_problems": _("Pemeriksaan menemukan {count} masalah."),
        "note_required": _("Tulis catatan perubahan sebelum menerapkan."),
        "deployed": _("Versi baru dipasang: paket {bundle} ({versions})."),
        "deploy_same": _("Isinya sama dengan versi {bundle}; tidak ada versi baru."),
        "deploy_refused": _("Tidak dipasang: {message}"),
    }


@blp.get("/modeler")
def modeler() -> str:
    words: dict[str, object] = {
        **_page_words(),
        "laksa": _laksa_words(),
        "panel": _panel_words(),
    }
    return render_template("designer/modeler.html", words=words)
