#!/usr/bin/env python3
"""intake against PassportEye and fastmrz: accuracy and speed, same files, one run.

    python3 benches/peers/compare.py            # what `make compare` runs
    COMPARE_COUNT=60 python3 benches/peers/compare.py   # a quick run

Standard library only; the peers run in their own venv (created once, under
out/peers-venv) as worker processes (benches/peers/peer_worker.py).

Steps:
 1. venv with the pinned peers (PassportEye 2.2.x, fastmrz 2.1.x) from PyPI,
    created and filled only when missing;
 2. a fixed-seed sample set from intake's own generator
    (`intake samples --out DIR --count N --seed S`, regenerated only when the
    count or seed changed); every document with an MRZ is used;
 3. intake once over the whole set (`intake check FILE... --json`, one
    process, its default 2 threads), and once more with its MRZ glyph
    classifier off (`ocr.mrz_glyphs = false`: Tesseract alone), the
    alternative it replaced;
 4. each peer over the same files, in 2 worker processes (one core each);
 5. every MRZ field compared with the manifest's ground truth; one table
    per tool and degradation class, and a table of the known peer weaknesses;
 6. steps 3-5 again on a second corpus that no part of intake made,
    COMPARE_CORPUS (default ../shared/corpora/dev-a): every case whose truth
    has MRZ lines, intake run as the portal runs it (one process per
    submission date and declared kind, `--today` the case's submitted_at,
    `--kind` its document_kind), the peers on the same files; one table per
    tool and manifest class, and per MRZ format. The corpus is only measured
    here: nothing is tuned to it. Skipped, with a message, when missing.

Environment (all optional): COMPARE_COUNT (generator --count, default 480:
400 MRZ documents), COMPARE_SEED (2026), COMPARE_OUT (out/compare),
COMPARE_VENV (out/peers-venv), COMPARE_WORKERS (2), INTAKE (the binary,
target/release/intake), FASTMRZ_TESSDATA (a directory holding fastmrz's
mrz.traineddata, if you have it), COMPARE_CORPUS (the second corpus's
directory, holding manifest.json; relative to the project root).
"""

import difflib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))

PINS = ["passporteye>=2.2,<2.3", "fastmrz>=2.1,<2.2"]
COUNT = int(os.environ.get("COMPARE_COUNT", "480"))
SEED = int(os.environ.get("COMPARE_SEED", "2026"))
OUT = os.path.abspath(os.environ.get("COMPARE_OUT", os.path.join(ROOT, "out", "compare")))
VENV = os.path.abspath(os.environ.get("COMPARE_VENV", os.path.join(ROOT, "out", "peers-venv")))
WORKERS = int(os.environ.get("COMPARE_WORKERS", "2"))
INTAKE = os.path.abspath(os.environ.get("INTAKE", os.path.join(ROOT, "target", "release", "intake")))
SYSTEM_TESSDATA = ["/usr/share/tesseract-ocr/5/tessdata", "/usr/share/tesseract-ocr/4.00/tessdata"]
CORPUS = os.path.abspath(os.path.join(ROOT, os.environ.get("COMPARE_CORPUS", os.path.join(
    "..", "shared", "corpora", "dev-a"))))

CLASS_ORDER = ["clean", "blur", "noise", "jpeg_q35", "low_contrast", "uneven_light", "skew",
               "rot90", "rot180", "rot270", "a4_page", "low_dpi", "heavy_blur",
               "guilloche", "card_edge", "cap_height", "other_rasteriser", "perspective"]
CLASS_LABEL = {
    "clean": "clean 300-600 dpi", "blur": "blur", "noise": "noise", "jpeg_q35": "JPEG q35",
    "low_contrast": "low contrast", "uneven_light": "uneven light", "skew": "skew 1-4 deg",
    "rot90": "rotated 90", "rot180": "rotated 180", "rot270": "rotated 270", "a4_page": "A4 flatbed page",
    "low_dpi": "below 300 dpi", "heavy_blur": "heavy blur",
    "guilloche": "security print at the MRZ", "card_edge": "card edge 3 mm, shadow",
    "cap_height": "cap height 2.0-2.6 mm, width +-10%", "other_rasteriser": "laser-printed MRZ",
    "perspective": "phone photo, keystone",
}
# The second corpus's classes (its manifest's `class`), in this order.
CORPUS_CLASS_ORDER = ["clean", "equivalent", "mismatch", "expired", "lowdpi", "unreadable"]
MRZ_FORMAT_ORDER = ["TD3", "TD1", "TD2", "MRV-A", "MRV-B"]
BASE_FIELDS = ["document_type", "issuing_state", "surname", "given_names", "document_number",
               "nationality", "birth_date", "sex", "expiry_date"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- setup

def ensure_venv():
    py = os.path.join(VENV, "bin", "python")
    stamp = os.path.join(VENV, ".intake-peers")
    want = " ".join(PINS)
    if os.path.exists(py) and os.path.exists(stamp) and open(stamp).read() == want:
        return py
    if not os.path.exists(py):
        log("creating venv %s" % VENV)
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    log("installing %s" % want)
    # Wheels only, except the two pure-Python sdists PyPI has no wheel for
    # (passporteye itself and its pdfminer dependency).
    subprocess.run([py, "-m", "pip", "install", "-q", "--only-binary=:all:",
                    "--no-binary=passporteye,pdfminer"] + PINS, check=True)
    with open(stamp, "w") as f:
        f.write(want)
    return py


def peer_versions(py):
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps({p: m.version(p) for p in ['passporteye', 'fastmrz', 'opencv-python-headless', "
            "'scikit-image', 'pytesseract']}))")
    v = json.loads(subprocess.run([py, "-c", code], check=True, capture_output=True, text=True).stdout)
    tess = subprocess.run(["tesseract", "--version"], capture_output=True, text=True)
    v["tesseract"] = (tess.stdout or tess.stderr).split("\n")[0].replace("tesseract ", "")
    return v


def fastmrz_tessdata():
    """(tessdata dir, note). fastmrz runs `tesseract -l mrz` with its own
    mrz.traineddata, which is neither in its wheel nor anywhere on PyPI or in
    Debian; its README has it downloaded from its GitHub repository."""
    cands = [os.environ.get("FASTMRZ_TESSDATA")] + SYSTEM_TESSDATA
    for d in cands:
        if d and os.path.exists(os.path.join(d, "mrz.traineddata")) and not os.path.islink(
                os.path.join(d, "mrz.traineddata")):
            return d, None
    sub = os.path.join(OUT, "tessdata-fastmrz-eng")
    os.makedirs(sub, exist_ok=True)
    eng = next((os.path.join(d, "eng.traineddata") for d in SYSTEM_TESSDATA
                if os.path.exists(os.path.join(d, "eng.traineddata"))), None)
    if eng is None:
        return None, "fastmrz not run: neither its mrz.traineddata nor eng.traineddata is installed"
    link = os.path.join(sub, "mrz.traineddata")
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(eng, link)
    return sub, ("fastmrz's mrz.traineddata cannot be had offline (not in the fastmrz 2.1 wheel, not on "
                 "PyPI or in Debian; its README downloads it from GitHub), so fastmrz* runs with Tesseract's "
                 "stock eng.traineddata under the name mrz: its ONNX MRZ segmentation (in the wheel) is "
                 "real, its OCR is not the one it was built for")


def ensure_samples():
    stamp = os.path.join(OUT, "samples.stamp")
    want = "count=%d seed=%d" % (COUNT, SEED)
    sdir = os.path.join(OUT, "samples")
    if not (os.path.exists(stamp) and open(stamp).read() == want
            and os.path.exists(os.path.join(sdir, "manifest.json"))):
        if os.path.exists(sdir):
            shutil.rmtree(sdir)
        log("generating samples: --count %d --seed %d" % (COUNT, SEED))
        subprocess.run([INTAKE, "samples", "--out", sdir, "--count", str(COUNT), "--seed", str(SEED)],
                       check=True, cwd=OUT, stdout=subprocess.DEVNULL)
        with open(stamp, "w") as f:
            f.write(want)
    manifest = json.load(open(os.path.join(sdir, "manifest.json")))
    docs = [e for e in manifest["entries"] if e.get("mrz_format")]
    for d in docs:
        d["path"] = os.path.join(sdir, d["file"])
    return manifest, docs


def load_corpus():
    """(manifest cases, MRZ documents) of COMPARE_CORPUS, or None if it is missing."""
    path = os.path.join(CORPUS, "manifest.json")
    if not os.path.exists(path):
        return None
    cases = json.load(open(path))
    cases = cases.get("cases", cases) if isinstance(cases, dict) else cases
    docs = []
    for c in cases:
        truth = c.get("truth") or {}
        if not truth.get("mrz_lines"):
            continue
        fmt = (truth.get("mrz_format") or "").upper()
        fmt = {"MRVA": "MRV-A", "MRVB": "MRV-B"}.get(fmt, fmt)
        fields = dict(truth.get("fields") or {})
        docs.append({
            "id": c["id"], "file": c["file"], "path": os.path.join(CORPUS, c["file"]),
            "format": (c.get("scan") or {}).get("format") or os.path.splitext(c["file"])[1].lstrip("."),
            "mrz_format": fmt, "mrz_lines": truth["mrz_lines"], "fields": fields,
            # Only the fields the corpus gives are compared.
            "score_fields": sorted(fields),
            "degradation": c.get("class") or "?",
            "today": (c.get("submitted_at") or "")[:10],
            "declared_kind": c.get("document_kind") or "auto",
            "expected_verdict": (c.get("expected") or {}).get("verdict"),
        })
    return cases, docs


# ---------------------------------------------------------------- runs

TESSERACT_ONLY = "intake, Tesseract only"


def run_intake(docs, today, config=None):
    """intake over `docs`: one process per (submission date, declared kind) of
    a corpus's cases (the generated set has neither: one process, `today`,
    no --kind); wall and CPU are the sums over the processes."""
    groups = {}
    for d in docs:
        groups.setdefault((d.get("today") or today, d.get("declared_kind")), []).append(d)
    results, info = {}, None
    for (day, kind), group in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "")):
        extra = ["--kind", kind] if kind else []
        r, i = run_intake_once(group, day, config, extra)
        results.update(r)
        if info is None:
            info = i
        else:
            for k in ("wall", "cpu", "count"):
                info[k] += i[k]
            info["maxrss_mib"] = max(info["maxrss_mib"], i["maxrss_mib"])
            info["processes"] += 1
    return results, info


def run_intake_once(docs, today, config, extra):
    files = [d["path"] for d in docs]
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    # cwd is the output directory, which has no pipeline.toml: intake's defaults.
    t0 = time.perf_counter()
    extra = extra + (["--config", config] if config else [])
    proc = subprocess.Popen([INTAKE, "check"] + files + ["--json", "--today", today] + extra, cwd=OUT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Read both pipes to the end, then reap the process ourselves for its own rusage.
    out_chunks, err_chunks = [], []
    import threading
    t = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))
    t.start()
    out_chunks.append(proc.stdout.read())
    t.join()
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    out, err = out_chunks[0], err_chunks[0]
    if proc.returncode != 0:
        raise SystemExit("intake check failed (%d): %s" % (proc.returncode, err[-2000:]))
    results = {}
    for line in out.splitlines():
        r = json.loads(line)
        doc = r.get("document") or {}
        mrz = doc.get("mrz") or {}
        results[r["file"]] = {
            "fields": doc.get("fields"),
            "raw": "\n".join(mrz.get("lines") or []) or None,
            "format": mrz.get("format"),
            # intake's own "this is right": the document accepted.
            "valid": r["verdict"] == "accepted",
            "composite_failed": bool(mrz) and not mrz.get("check_digits_valid"),
            "status": r["verdict"],
            "verdict": r["verdict"],
            "seconds": sum((r.get("timings_ms") or {}).values()) / 1000.0,
        }
    cpu = ru.ru_utime + ru.ru_stime
    # Per document, intake's CPU time is apportioned by its share of the summed stage timings.
    total = sum(r["seconds"] for r in results.values()) or 1.0
    for r in results.values():
        r["cpu_seconds"] = cpu * r["seconds"] / total
    return results, {"wall": wall, "maxrss_mib": ru.ru_maxrss / 1024.0, "processes": 1,
                     "threads": WORKERS, "cpu": cpu, "count": len(docs)}


def run_peer(py, tool, docs, tessdata=None):
    files = [d["path"] for d in docs]
    shards = [files[i::WORKERS] for i in range(WORKERS)]
    cmd = [py, os.path.join(HERE, "peer_worker.py"), tool]
    if tessdata:
        cmd += ["--tessdata", tessdata]
    env = dict(os.environ, OMP_THREAD_LIMIT="1", PYTHONWARNINGS="ignore")
    procs = []
    for shard in shards:
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env, cwd=OUT)
        procs.append(p)
    # Feed every worker before reading any output: the workers start together.
    for p, shard in zip(procs, shards):
        p.stdin.write(json.dumps(shard))
        p.stdin.close()
    results, summaries = {}, []
    for p in procs:
        out = p.stdout.read()
        err = p.stderr.read()
        p.wait()
        if p.returncode != 0:
            raise SystemExit("%s worker failed (%d): %s" % (tool, p.returncode, err[-2000:]))
        for line in out.splitlines():
            r = json.loads(line)
            if "summary" in r:
                summaries.append(r["summary"])
            else:
                results[r["file"]] = r
    starts = [s["first_start"] for s in summaries if s["first_start"]]
    ends = [s["last_end"] for s in summaries if s["last_end"]]
    wall = (max(ends) - min(starts)) if starts else 0.0
    rss = max((s["maxrss_kib"] / 1024.0 for s in summaries), default=0.0)
    cpu = sum(r.get("cpu_seconds") or 0.0 for r in results.values())
    return results, {"wall": wall, "maxrss_mib": rss, "processes": WORKERS, "threads": 1, "cpu": cpu,
                     "count": len(docs)}


# ---------------------------------------------------------------- scoring

def norm_name(v):
    return " ".join((v or "").upper().replace("<", " ").split())


def norm_code(v):
    v = (v or "").upper().replace("<", "").replace(" ", "")
    # Germany is D in an MRZ, DEU elsewhere (ICAO 9303 Part 3).
    return "DEU" if v == "D" else v


def norm_date(v):
    v = (v or "").strip()
    if len(v) == 10 and v[4] == "-" and v[7] == "-":
        return v[2:4] + v[5:7] + v[8:10]
    return v


def norm_sex(v):
    v = (v or "").strip().upper()
    return "X" if v in ("<", "X", "") else v


NORM = {"surname": norm_name, "given_names": norm_name, "birth_date": norm_date, "expiry_date": norm_date,
        "sex": norm_sex}


def fields_of(doc):
    if "score_fields" in doc:
        return doc["score_fields"]
    return BASE_FIELDS + (["personal_number"] if doc["mrz_format"] == "TD3" else [])


def score(doc, result):
    """(fields right, fields compared, [wrong field names])."""
    names = fields_of(doc)
    got = (result or {}).get("fields") or {}
    wrong = []
    for f in names:
        n = NORM.get(f, norm_code)
        if n(doc["fields"].get(f)) != n(got.get(f)):
            wrong.append(f)
    return len(names) - len(wrong), len(names), wrong


def filler_as_k(doc, result):
    """Characters where the truth has the `<` filler and the tool's raw MRZ text has K."""
    raw = (result or {}).get("raw") or ""
    lines = [l.replace(" ", "") for l in raw.split("\n") if l.strip()]
    if not lines:
        return 0
    total = 0
    for i, truth in enumerate(doc["mrz_lines"]):
        # the tool's line most like this truth line
        cand = lines[i] if len(lines) == len(doc["mrz_lines"]) else max(
            lines, key=lambda l: difflib.SequenceMatcher(None, truth, l, autojunk=False).ratio())
        sm = difflib.SequenceMatcher(None, truth, cand, autojunk=False)
        for op, a0, a1, b0, b1 in sm.get_opcodes():
            if op != "replace":
                continue
            ta, tb = truth[a0:a1], cand[b0:b1]
            if len(ta) == len(tb):
                total += sum(1 for x, y in zip(ta, tb) if x == "<" and y == "K")
            else:
                total += min(ta.count("<"), tb.count("K"))
    return total


def pct(a, b):
    return "%.1f%%" % (100.0 * a / b) if b else "-"


def quantile(xs, q):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def run_tools(py, docs, today, what):
    """Every tool over `docs`, as in steps 3-4: [(label, results, run info)]."""
    common = [d for d in docs if d["format"] in ("jpeg", "png")]
    pdfs = [d for d in docs if d["format"] == "pdf"]
    log("%s: %d MRZ documents (%d JPEG/PNG, %d PDF)" % (what, len(docs), len(common), len(pdfs)))
    tools = []  # (label, results, run info)
    log("intake: one process per submission date and declared kind over %d files" % len(docs))
    load0 = os.getloadavg()[0]
    r, info = run_intake(docs, today)
    info["load"] = (load0, os.getloadavg()[0])
    tools.append(("intake", r, info))
    log("  %.1f s" % info["wall"])
    # The alternative the glyph classifier replaced, measured in the same run.
    config = os.path.join(OUT, "tesseract-only.toml")
    with open(config, "w") as f:
        f.write("[ocr]\nmrz_glyphs = false\n")
    log("intake, Tesseract only (ocr.mrz_glyphs = false) over %d files" % len(docs))
    load0 = os.getloadavg()[0]
    r, info = run_intake(docs, today, config)
    info["load"] = (load0, os.getloadavg()[0])
    tools.append((TESSERACT_ONLY, r, info))
    log("  %.1f s" % info["wall"])
    log("PassportEye: %d workers over %d files" % (WORKERS, len(docs)))
    load0 = os.getloadavg()[0]
    r, info = run_peer(py, "passporteye", docs)
    info["load"] = (load0, os.getloadavg()[0])
    tools.append(("PassportEye", r, info))
    log("  %.1f s" % info["wall"])
    tessdata, fm_note = fastmrz_tessdata()
    if tessdata:
        label = "fastmrz*" if fm_note else "fastmrz"
        log("fastmrz: %d workers over %d files" % (WORKERS, len(common)))
        load0 = os.getloadavg()[0]
        r, info = run_peer(py, "fastmrz", common, tessdata)  # PDFs: its pdf input is a stub
        info["load"] = (load0, os.getloadavg()[0])
        for d in pdfs:
            r[d["path"]] = {"fields": None, "raw": None, "valid": False, "unsupported": True,
                            "status": "PDF unsupported", "seconds": None}
        tools.append((label, r, info))
        log("  %.1f s" % info["wall"])
    return tools


def accuracy_table(p, docs, tools, groups):
    """The per-class table, then speed, memory, load, wall, CPU and the
    PassportEye ratio. `groups`: [(row label, documents)]."""
    p("| class | documents | tool | every MRZ field right | field accuracy | median s/doc (1 core) | "
      "p95 s/doc (1 core) | documents/s (2 cores) | CPU s/doc |")
    p("|---|---|---|---|---|---|---|---|---|")

    def rows(label, subset):
        for name, res, info in tools:
            sel = [d for d in subset if d["path"] in res]
            if not sel:
                continue
            unsupported = all(res[d["path"]].get("unsupported") for d in sel)
            if unsupported:
                p("| %s | %d | %s | not supported | - | - | - | - | - |" % (label, len(sel), name))
                continue
            right = fr = fn = 0
            for d in sel:
                a, b, wrong = score(d, res[d["path"]])
                fr += a
                fn += b
                right += not wrong
            secs = [res[d["path"]]["seconds"] for d in sel if res[d["path"]].get("seconds") is not None]
            # documents/s with both cores: measured on the whole run; a class's share of the
            # wall time is its share of the summed per-document seconds.
            tot = sum(res[d["path"]]["seconds"] or 0 for d in docs if d["path"] in res)
            share = (sum(secs) / tot) if tot else 0
            dps = len(sel) / (info["wall"] * share) if share and info["wall"] else float("nan")
            cpus = [res[d["path"]]["cpu_seconds"] for d in sel if res[d["path"]].get("cpu_seconds") is not None]
            p("| %s | %d | %s | %d/%d (%s) | %s | %.3f | %.3f | %.1f | %.3f |" % (
                label, len(sel), name, right, len(sel), pct(right, len(sel)), pct(fr, fn),
                statistics.median(secs), quantile(secs, 0.95), dps, statistics.mean(cpus) if cpus else float("nan")))

    for label, subset in groups:
        if subset:
            rows(label, subset)
    p("")
    p("Speed: seconds per document are each tool's own time for one document in a worker that has one core "
      "(peers: wall time of the read call in a worker process, Tesseract child included; intake: the sum of its "
      "per-stage timings_ms). CPU s/doc: user + system seconds (peers: per document, measured; intake: the "
      "process's total, apportioned by each document's share of the stage timings). documents/s: documents over the wall time of the run with %d workers (intake: the "
      "whole `intake check` process, summed over its processes; peers: first document started to last finished, "
      "interpreter start and model load excluded); a class's figure apportions that wall time by its share of "
      "per-document seconds." % WORKERS)
    mem = "; ".join(
        "%s %.0f MiB peak RSS for the whole process (%d worker threads, each with its own Tesseract)" % (
            n, i["maxrss_mib"], i["threads"]) if n.startswith("intake") else
        "%s %.0f MiB peak RSS per worker process (the largest of the %d; plus the short-lived `tesseract` "
        "process it starts for each OCR call)" % (n, i["maxrss_mib"], i["processes"]) for n, _, i in tools)
    walls = "; ".join("%s %.1f s for %d documents (%.2f documents/s)%s" % (
        n, i["wall"], i["count"], i["count"] / i["wall"] if i["wall"] else 0,
        " in %d processes, one after the other" % i["processes"] if n.startswith("intake") and i["processes"] > 1
        else "") for n, _, i in tools)
    p("Memory: " + mem + ".")
    p("Load average (1 min) at the start and end of each tool's run, for a machine that was not idle: " + "; ".join(
        "%s %.1f -> %.1f" % (n, i["load"][0], i["load"][1]) for n, _, i in tools if "load" in i) + ".")
    p("Wall: " + walls + ".")
    p("CPU: " + "; ".join("%s %.1f CPU s in all (user + system, Tesseract children included), %.3f per document, "
                          "so %.1f documents/s if both cores did nothing else" % (
                              n, i["cpu"], i["cpu"] / i["count"], 2 * i["count"] / i["cpu"] if i["cpu"] else 0)
                          for n, _, i in tools) + ".")
    pe = dict((n, i) for n, _, i in tools)
    for name in ("intake", TESSERACT_ONLY):
        if name in pe and "PassportEye" in pe and pe[name]["wall"]:
            ratio = pe["PassportEye"]["wall"] / pe[name]["wall"]
            p("%s documents/s / PassportEye documents/s, same %d files, both on 2 cores: %.1fx by wall time, "
              "%.1fx by CPU time" % (name, len(docs), ratio, pe["PassportEye"]["cpu"] / pe[name]["cpu"]))
    p("")


def false_valid_cell(common):
    def cell(res):
        return "%d" % sum(1 for d in common if res[d["path"]].get("valid") and score(d, res[d["path"]])[2])
    return cell


def failure_reasons(p, common, tools):
    for name, res, _ in tools:
        reasons = {}
        for d in common:
            r = res[d["path"]]
            if score(d, r)[2]:
                st = r.get("status") or "?"
                st = "invalid" if st.startswith("invalid (score") else st
                st = st if len(st) < 60 else st[:57] + "..."
                reasons[st] = reasons.get(st, 0) + 1
        if reasons:
            p("%s, documents with a wrong field by the tool's own status: %s" % (
                name, ", ".join("%s %d" % (k, v) for k, v in sorted(reasons.items(), key=lambda x: -x[1]))))


def write_details(path, docs, tools):
    with open(path, "w") as f:
        for d in docs:
            row = {"file": d["file"], "format": d["format"], "mrz_format": d["mrz_format"],
                   "degradation": d["degradation"], "truth": d["mrz_lines"]}
            for name, res, _ in tools:
                r = res.get(d["path"]) or {}
                row[name] = {"wrong": score(d, r)[2], "raw": r.get("raw"), "status": r.get("status"),
                             "seconds": r.get("seconds")}
            f.write(json.dumps(row) + "\n")


def class_groups(docs, order, label_of):
    """[(row label, documents)]: per class and per MRZ format on JPEG/PNG (which
    every tool reads), then all JPEG/PNG, all PDF and all files."""
    common = [d for d in docs if d["format"] in ("jpeg", "png")]
    pdfs = [d for d in docs if d["format"] == "pdf"]
    classes = order + sorted({d["degradation"] for d in common} - set(order))
    groups = [(label_of(c) + " (JPEG/PNG)", [d for d in common if d["degradation"] == c]) for c in classes]
    formats = MRZ_FORMAT_ORDER + sorted({d["mrz_format"] for d in common} - set(MRZ_FORMAT_ORDER))
    groups += [("%s, every class (JPEG/PNG)" % f, [d for d in common if d["mrz_format"] == f]) for f in formats]
    groups += [("**all JPEG/PNG**", common), ("all PDF", pdfs), ("**all files**", docs)]
    return groups


def main():
    os.makedirs(OUT, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if not os.path.exists(INTAKE):
        raise SystemExit("%s missing: run `cargo build --release` (make setup)" % INTAKE)
    if shutil.which("tesseract") is None:
        raise SystemExit("the tesseract command (Debian tesseract-ocr) is needed by both peers: make compare "
                         "installs it")
    py = ensure_venv()
    versions = peer_versions(py)
    manifest, docs = ensure_samples()
    today = manifest.get("today") or "2026-06-01"
    common = [d for d in docs if d["format"] in ("jpeg", "png")]
    pdfs = [d for d in docs if d["format"] == "pdf"]
    tools = run_tools(py, docs, today, "generated set")
    corpus = load_corpus()
    corpus_tools = None
    if corpus is not None:
        corpus_docs = corpus[1]
        corpus_tools = run_tools(py, corpus_docs, today, os.path.basename(CORPUS))
    _, fm_note = fastmrz_tessdata()

    lines = []
    p = lines.append
    cpu = ""
    try:
        cpu = [l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")][0]
    except (OSError, IndexError):
        pass
    p("intake vs PassportEye %s and fastmrz %s, %s, %s (%d cores: %s), Tesseract %s for all three" % (
        versions["passporteye"], versions["fastmrz"], started, platform.machine(), os.cpu_count() or 0, cpu,
        versions["tesseract"]))
    p("")
    p("## intake's generator")
    p("")
    p("samples: intake samples --count %d --seed %d: %d MRZ documents (TD3 %d, TD1 %d, TD2 %d, MRV-A %d); "
      "%d JPEG/PNG, which all three read, and %d PDF" % (
          COUNT, SEED, len(docs), *[sum(d["mrz_format"] == f for d in docs) for f in ("TD3", "TD1", "TD2", "MRV-A")],
          len(common), len(pdfs)))
    if fm_note:
        p("* " + fm_note)
    p("")
    accuracy_table(p, docs, tools, class_groups(docs, CLASS_ORDER, lambda c: CLASS_LABEL.get(c, c)))
    # -------------------------------------------------- known peer weaknesses
    p("Known peer weaknesses, measured on the %d JPEG/PNG documents:" % len(common))
    p("")
    p("| weakness | what is counted | " + " | ".join(n for n, _, _ in tools) + " |")
    p("|---|---|" + "---|" * len(tools))

    def cells(fn):
        return " | ".join(fn(res) for _, res, _ in tools)

    def k_cell(res):
        docs_k = [d for d in common if filler_as_k(d, res[d["path"]]) > 0]
        chars = sum(filler_as_k(d, res[d["path"]]) for d in common)
        cost = sum(1 for d in docs_k if score(d, res[d["path"]])[2])
        return "%d docs (%d chars), %d with a wrong field" % (len(docs_k), chars, cost)

    p("| `<` read as K | documents whose MRZ text output has K where the zone has `<` | %s |" % cells(k_cell))

    def sub_cell(sub, field=None):
        def f(res):
            if not sub:
                return "-"
            if field:
                ok = sum(1 for d in sub if field not in score(d, res[d["path"]])[2])
            else:
                ok = sum(1 for d in sub if not score(d, res[d["path"]])[2])
            return "%d/%d" % (ok, len(sub))
        return f

    skew = [d for d in common if d["degradation"] == "skew"]
    p("| slight rotation | skew 1-4 deg: every field right | %s |" % cells(sub_cell(skew)))
    trunc = [d for d in common if d.get("names_truncated")]
    p("| long truncated names | names cut by the MRZ: every field right | %s |" % cells(sub_cell(trunc)))
    p("| long truncated names | the same: surname and given names right | %s |" % cells(
        lambda res: "%d/%d" % (sum(1 for d in trunc if not {"surname", "given_names"} & set(
            score(d, res[d["path"]])[2])), len(trunc)) if trunc else "-"))
    long_td1 = [d for d in common if d["mrz_format"] == "TD1" and len(d["fields"]["document_number"]) > 9]
    p("| TD1 number over 9 characters | document number right (ICAO overflow into optional data) | %s |" % cells(
        sub_cell(long_td1, "document_number")))
    short_td1 = [d for d in common if d["mrz_format"] == "TD1" and len(d["fields"]["document_number"]) <= 9]
    p("| (TD1, 9 characters or fewer) | document number right | %s |" % cells(
        sub_cell(short_td1, "document_number")))

    def comp_cell(res):
        failed = [d for d in common if res[d["path"]].get("composite_failed") or (
            (res[d["path"]].get("checks") or {}).get("composite") is False)]
        fine = [d for d in failed if not score(d, res[d["path"]])[2]]
        return "%d failed; %d of them with every field right" % (len(failed), len(fine))

    p("| composite check failures | documents whose composite (final) check fails (intake: any check digit "
      "still failing after repair); of those, how many had every field right anyway | %s |" % cells(comp_cell))

    def fieldvalid_cell(res):
        # PassportEye reports each check separately: composite wrong while every field's own check holds.
        hits = [d for d in common if (res[d["path"]].get("checks") or {}).get("composite") is False and all(
            v for k, v in res[d["path"]]["checks"].items() if k != "composite")]
        if not any(res[d["path"]].get("checks") for d in common):
            return "n/a"
        return "%d, %d with every field right" % (len(hits), sum(1 for d in hits if not score(d, res[d["path"]])[2]))

    p("| composite hides valid fields | composite fails while every per-field check digit holds "
      "(tools that report per-field checks) | %s |" % cells(fieldvalid_cell))

    p("| reported valid, yet wrong | the tool's own validity says yes (intake: verdict `accepted`), "
      "a field is wrong | %s |" % cells(
        false_valid_cell(common)))
    p("")
    failure_reasons(p, common, tools)
    p("")

    # -------------------------------------------------- the second corpus
    name = os.path.basename(CORPUS)
    p("## %s: scans no part of intake made" % name)
    p("")
    if corpus is None:
        msg = ("%s has no manifest.json: the second corpus is skipped (set COMPARE_CORPUS to its directory)"
               % CORPUS)
        log(msg)
        p(msg)
    else:
        cases, cdocs = corpus
        ccommon = [d for d in cdocs if d["format"] in ("jpeg", "png")]
        days = sorted({d["today"] for d in cdocs})
        p("%s (%s): %d cases, %d of them MRZ documents (%s); %d JPEG/PNG, which all three read, and %d PDF. "
          "Classes are the manifest's `class`; intake ran as the portal runs it, one process per submission date "
          "(%s) and declared kind, with `--today` and `--kind` from the case (no profile: only the fields are "
          "compared). Fields compared: %s (dates as YYMMDD; Germany's D in an MRZ counts as DEU). Measured only: "
          "nothing in intake is tuned to this corpus." % (
              name, CORPUS, len(cases), len(cdocs),
              ", ".join("%s %d" % (f, sum(d["mrz_format"] == f for d in cdocs))
                        for f in MRZ_FORMAT_ORDER if any(d["mrz_format"] == f for d in cdocs)),
              len(ccommon), len(cdocs) - len(ccommon), ", ".join(days),
              ", ".join(sorted({f for d in cdocs for f in d["score_fields"]}))))
        if fm_note:
            p("* " + fm_note)
        p("")
        accuracy_table(p, cdocs, corpus_tools, class_groups(cdocs, CORPUS_CLASS_ORDER, lambda c: c))
        p("| weakness | what is counted | " + " | ".join(n for n, _, _ in corpus_tools) + " |")
        p("|---|---|" + "---|" * len(corpus_tools))
        p("| reported valid, yet wrong | the tool's own validity says yes (intake: verdict `accepted`), a field is "
          "wrong (JPEG/PNG) | " + " | ".join(false_valid_cell(ccommon)(res) for _, res, _ in corpus_tools) + " |")
        p("")
        failure_reasons(p, ccommon, corpus_tools)
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(OUT, "table.md"), "w") as f:
        f.write(text + "\n")
    # Per-document detail for whoever wants to look closer.
    write_details(os.path.join(OUT, "details.jsonl"), docs, tools)
    if corpus is not None:
        write_details(os.path.join(OUT, "details-%s.jsonl" % name), corpus[1], corpus_tools)
    log("table written to %s, per-document detail to %s" % (
        os.path.join(OUT, "table.md"), os.path.join(OUT, "details*.jsonl")))


if __name__ == "__main__":
    main()
