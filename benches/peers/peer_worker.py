"""One worker process of a peer MRZ reader, run inside the peers venv.

    python peer_worker.py TOOL [--tessdata DIR] < files.json > results.jsonl

TOOL is `passporteye` or `fastmrz`. Reads a JSON list of file paths on stdin,
reads each one with the peer's own public API and writes one JSON object per
file (JSON Lines): the raw MRZ text the peer OCR'd, the fields it parsed,
its own validity verdict, an error if it raised, and the wall and CPU seconds
the read took (this process plus its Tesseract child processes). A last line
`{"summary": ...}` gives the first start / last end timestamps and the peak
RSS of this worker and of its largest child.

Threads are pinned to one per process (OMP, BLAS, OpenCV) so that a worker
uses one core; the harness starts two workers for two cores.
"""

import json
import os
import resource
import sys
import time
import warnings

for var in ("OMP_THREAD_LIMIT", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"
warnings.filterwarnings("ignore")


def cpu_seconds():
    s = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return s.ru_utime + s.ru_stime + c.ru_utime + c.ru_stime


def passporteye_reader():
    from passporteye import read_mrz

    def read(path):
        mrz = read_mrz(path)
        if mrz is None:
            return {"raw": None, "status": "no MRZ found", "valid": False, "fields": None}
        d = mrz.to_dict()
        fmt = d.get("mrz_type")
        fields = {
            "document_type": d.get("type"),
            "issuing_state": d.get("country"),
            "surname": d.get("surname"),
            "given_names": d.get("names"),
            "document_number": d.get("number"),
            "nationality": d.get("nationality"),
            "birth_date": d.get("date_of_birth"),
            "sex": d.get("sex"),
            "expiry_date": d.get("expiration_date"),
            "personal_number": d.get("personal_number") if fmt == "TD3" else d.get("optional1"),
        }
        checks = {k[len("valid_"):]: v for k, v in d.items() if k.startswith("valid_") and k != "valid_score"}
        return {
            "raw": d.get("raw_text"),
            "format": fmt,
            "status": "valid" if d.get("valid") else "invalid (score %s)" % d.get("valid_score"),
            "valid": bool(d.get("valid")),
            "checks": checks,
            "fields": fields,
        }

    return read


def fastmrz_reader(tessdata):
    import cv2
    from fastmrz import FastMRZ

    cv2.setNumThreads(1)
    fm = FastMRZ(tessdata_path=tessdata or "")

    def read(path):
        # get_details(path) crashes on grayscale scans (it reshapes the decoded
        # array to 3 channels), so it gets the documented numpy input: the file
        # decoded by OpenCV as 3-channel BGR. PDFs: its input_type="pdf" is a stub.
        if path.lower().endswith(".pdf"):
            return {"raw": None, "status": "PDF unsupported (input_type='pdf' is a stub)", "valid": False,
                    "fields": None, "unsupported": True}
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            return {"raw": None, "status": "could not decode", "valid": False, "fields": None}
        text = fm.get_details(img, input_type="numpy", ignore_parse=True)
        # The same parse get_details() would apply; it may raise on garbage.
        try:
            d = fm._parse_mrz(text)
        except Exception as e:  # noqa: BLE001 - a peer crash is a result
            return {"raw": text, "status": "parse raised %s" % type(e).__name__, "valid": False, "fields": None}
        if "mrz_type" not in d:
            return {"raw": text or None, "status": d.get("status_message"), "valid": False, "fields": None}
        fmt = d.get("mrz_type")
        fields = {
            "document_type": d.get("document_code"),
            "issuing_state": d.get("issuer_code"),
            "surname": d.get("surname"),
            "given_names": d.get("given_name"),
            "document_number": d.get("document_number"),
            "nationality": d.get("nationality_code"),
            "birth_date": d.get("birth_date"),
            "sex": d.get("sex"),
            "expiry_date": d.get("expiry_date"),
            "personal_number": d.get("optional_data") if fmt != "TD1" else d.get("optional_data_1"),
        }
        ok = d.get("status") == "SUCCESS"
        return {
            "raw": d.get("mrz_text"),
            "format": fmt,
            "status": "valid" if ok else d.get("status_message"),
            "valid": ok,
            "composite_failed": d.get("status_message") == "Final checksum is not matching",
            "fields": fields,
        }

    return read


def main():
    tool = sys.argv[1]
    tessdata = None
    if "--tessdata" in sys.argv:
        tessdata = sys.argv[sys.argv.index("--tessdata") + 1]
    read = passporteye_reader() if tool == "passporteye" else fastmrz_reader(tessdata)
    files = json.load(sys.stdin)
    first = last = None
    out = sys.stdout
    for path in files:
        t0 = time.time()
        c0 = cpu_seconds()
        p0 = time.perf_counter()
        try:
            r = read(path)
        except Exception as e:  # noqa: BLE001 - a peer crash is a result
            r = {"raw": None, "status": "raised %s: %s" % (type(e).__name__, str(e)[:160]), "valid": False,
                 "fields": None}
        r["seconds"] = time.perf_counter() - p0
        r["cpu_seconds"] = cpu_seconds() - c0
        r["file"] = path
        first = t0 if first is None else first
        last = time.time()
        out.write(json.dumps(r) + "\n")
        out.flush()
    summary = {
        "first_start": first,
        "last_end": last,
        "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "child_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    }
    out.write(json.dumps({"summary": summary}) + "\n")


if __name__ == "__main__":
    main()
