//! Decompression and parser bombs through the real binary (`intake check
//! FILE --json`): each gets a verdict with a clear finding, in bounded time
//! and bounded memory. The peak RSS is the child's own (`wait4`), which
//! includes the PDF sandbox it starts; every figure is printed
//! (`cargo test --release --test integration bombs -- --nocapture`).

use crate::sandbox::pdf;
use image::ImageEncoder;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-clock bound of one `intake check` of one bomb. Refusals take well
/// under a second; the bombs within limits (64-80 MP decoded and read,
/// visual-zone OCR included) take 10-40 s on 2 busy cores.
const TIME_BOUND: Duration = Duration::from_secs(120);
/// Peak resident memory bound of one `intake check` (the process and its sandbox).
const RSS_BOUND_KIB: i64 = 1536 * 1024;

struct Run {
    report: serde_json::Value,
    seconds: f64,
    peak_rss_kib: i64,
}

/// `intake check FILE --json`, timed, its peak RSS taken from `wait4`; killed past twice the bound.
fn check_bomb(name: &str, bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    run_check(&path)
}

// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_check(path: &Path) -> Run {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_intake"))
        .args(["check", "--json", "--today", "2026-06-01"])
        .arg(path)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("intake runs");
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: waits for our own child, with valid pointers to locals; the
        // child is reaped here and never waited for through `child` again.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        assert!(done >= 0, "wait4 failed");
        if done == pid {
            break;
        }
        if started.elapsed() > TIME_BOUND * 2 {
            let _ = child.kill();
            // SAFETY: as above.
            unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
            panic!(
                "{}: still running after {:?}",
                path.display(),
                started.elapsed()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let seconds = started.elapsed().as_secs_f64();
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{}: intake check exited with status {status:#x}: {stderr}",
        path.display()
    );
    let report = serde_json::from_str(stdout.trim()).expect("one JSON report");
    Run {
        report,
        seconds,
        peak_rss_kib: usage.ru_maxrss,
    }
}

/// Checks the bomb's verdict, finding, time and memory, and prints its row.
fn assert_bounded(name: &str, bytes: &[u8], expected: &[&str]) {
    let run = check_bomb(name, bytes);
    let codes = crate::codes(&run.report);
    let verdict = run.report["verdict"].as_str().unwrap_or("?").to_string();
    let slowest = run.report["timings_ms"]
        .as_object()
        .and_then(|t| {
            t.iter()
                .filter_map(|(stage, ms)| Some((stage.clone(), ms.as_f64()?)))
                .max_by(|a, b| a.1.total_cmp(&b.1))
        })
        .map(|(stage, ms)| format!("{stage} {ms:.0} ms"))
        .unwrap_or_default();
    println!(
        "bomb {name}: {} bytes -> {verdict} {codes:?} in {:.2} s (slowest stage: {slowest}), \
         peak RSS {:.1} MiB",
        bytes.len(),
        run.seconds,
        run.peak_rss_kib as f64 / 1024.0
    );
    assert!(
        codes.iter().any(|c| expected.contains(&c.as_str())),
        "{name}: findings {codes:?}, expected one of {expected:?}"
    );
    assert_ne!(verdict, "accepted", "{name}");
    assert!(
        run.seconds < TIME_BOUND.as_secs_f64(),
        "{name}: {:.1} s",
        run.seconds
    );
    assert!(
        run.peak_rss_kib < RSS_BOUND_KIB,
        "{name}: peak RSS {} KiB",
        run.peak_rss_kib
    );
}

/// A zlib stream that inflates to `n` zero bytes, about 1 KiB per MiB
/// (zlib's own best ratio): one dynamic Huffman block whose length-258 and
/// distance-1 codes are one bit each, so the body is all zero bytes.
fn zeros_zlib(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        /// `count` bits of `value`, least significant first (header fields, extra bits).
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            for i in (0..len).rev() {
                self.put((code >> i) & 1, 1);
            }
        }
    }
    assert!(n >= 1);
    let mut b = Bits {
        out: vec![0x78, 0x9C],
        acc: 0,
        n: 0,
    };
    // Final block, dynamic Huffman; 286 literal/length codes, 2 distance codes, 18 code-length codes.
    b.put(1, 1);
    b.put(2, 2);
    b.put(286 - 257, 5);
    b.put(2 - 1, 5);
    b.put(18 - 4, 4);
    // Code-length code: 1, 17, 18 two bits (00, 01, 10); 0 and 2 three bits (110, 111).
    let order = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1];
    for s in order {
        b.put(
            match s {
                1 | 17 | 18 => 2,
                0 | 2 => 3,
                _ => 0,
            },
            3,
        );
    }
    let (one, two, zeros) = ((0b00, 2), (0b111, 3), (0b10, 2));
    // Literal 0: 2 bits; 1..=255: none; end of block (256): 2 bits; 257..=284: none; 258 (285): 1 bit.
    b.code(two.0, two.1);
    b.code(zeros.0, zeros.1);
    b.put(138 - 11, 7);
    b.code(zeros.0, zeros.1);
    b.put(117 - 11, 7);
    b.code(two.0, two.1);
    b.code(zeros.0, zeros.1);
    b.put(28 - 11, 7);
    b.code(one.0, one.1);
    // Distances 1 and 2: one bit each.
    b.code(one.0, one.1);
    b.code(one.0, one.1);
    // A literal zero (10), then copies of 258 bytes at distance 1 (0, 0).
    let mut left = n - 1;
    b.code(0b10, 2);
    while left >= 258 {
        b.put(0, 2);
        left -= 258;
    }
    for _ in 0..left {
        b.code(0b10, 2);
    }
    b.code(0b11, 2);
    if b.n > 0 {
        b.put(0, 8 - b.n);
    }
    // Adler-32 of n zeros: a = 1, b = n.
    let adler = (((n % 65521) << 16) | 1) as u32;
    b.out.extend(adler.to_be_bytes());
    b.out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// An 8-bit grey PNG whose IHDR says `w` x `h` and whose IDAT is `idat`.
fn png(w: u32, h: u32, idat: Vec<u8>) -> Vec<u8> {
    let mut ihdr = w.to_be_bytes().to_vec();
    ihdr.extend(h.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", ihdr), (b"IDAT", idat), (b"IEND", Vec::new())] {
        out.extend((data.len() as u32).to_be_bytes());
        let chunk = [kind.as_slice(), &data].concat();
        out.extend(&chunk);
        out.extend(crc32(&chunk).to_be_bytes());
    }
    out
}

/// A small real JPEG whose SOF0 is rewritten to claim `w` x `h`.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let img = image::GrayImage::from_fn(64, 32, |x, y| image::Luma([(x * 4 + y) as u8]));
    let mut jpeg = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut jpeg),
        image::ImageFormat::Jpeg,
    )
    .unwrap();
    let sof = jpeg
        .windows(2)
        .position(|m| m == [0xFF, 0xC0])
        .expect("a baseline SOF");
    // FF C0, length (2), precision (1), height (2), width (2).
    jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    jpeg
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut s = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    s.extend(data);
    s.extend(b"\nendstream");
    s
}

/// One A4 page with `content` (object 4) and `resources`; `rest` are objects 5, 6, ...
fn one_page(content: Vec<u8>, resources: &str, rest: Vec<Vec<u8>>) -> Vec<u8> {
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
             /Resources {resources} >>"
        )
        .into_bytes(),
        content,
    ];
    objects.extend(rest);
    pdf(&objects)
}

const GIB: u64 = 1 << 30;

#[test]
fn png_claiming_100000_by_100000() {
    // 10 G pixels claimed, 20 bytes of data.
    let bomb = png(100_000, 100_000, zeros_zlib(1000));
    assert_bounded("huge_header.png", &bomb, &["image_too_large"]);
}

#[test]
fn png_of_80_megapixels_of_zeros_inflating_from_80_kib() {
    // 8944 x 8944 = 80 MP, just under limits.max_pixels: it is decoded and read.
    let side = 8944u32;
    let raw = u64::from(side) * (u64::from(side) + 1);
    let bomb = png(side, side, zeros_zlib(raw));
    assert!(bomb.len() < 100_000, "{}", bomb.len());
    assert_bounded(
        "80mp_zeros.png",
        &bomb,
        &[
            "image_unreadable",
            "mrz_not_found",
            "resolution_too_low",
            "file_corrupt",
        ],
    );
}

#[test]
fn jpeg_claiming_65500_by_65500() {
    let bomb = jpeg_claiming(65_500, 65_500);
    assert_bounded("huge_sof.jpg", &bomb, &["image_too_large"]);
}

#[test]
fn jpeg_claiming_8000_by_8000_with_64_by_32_of_data() {
    // Within limits: the decoder allocates 64 MP for a file of a few hundred bytes.
    let bomb = jpeg_claiming(8000, 8000);
    assert_bounded(
        "lying_sof.jpg",
        &bomb,
        &[
            "file_corrupt",
            "image_unreadable",
            "mrz_not_found",
            "resolution_too_low",
        ],
    );
}

#[test]
fn pdf_image_stream_inflating_to_1_gib() {
    // An 8000 x 8000 grey image (64 MB, within limits) whose FlateDecode
    // stream inflates to 1 GiB: inflated up to what the image needs, no further.
    let image = stream(
        "/Type /XObject /Subtype /Image /Width 8000 /Height 8000 /ColorSpace /DeviceGray \
         /BitsPerComponent 8 /Filter /FlateDecode",
        &zeros_zlib(GIB),
    );
    let content = stream("", b"q 595 0 0 595 0 0 cm /Im0 Do Q");
    let bomb = one_page(content, "<< /XObject << /Im0 5 0 R >> >>", vec![image]);
    assert!(bomb.len() < 2 << 20, "{}", bomb.len());
    assert_bounded(
        "flate_image_bomb.pdf",
        &bomb,
        &[
            "file_corrupt",
            "image_too_large",
            "image_unreadable",
            "mrz_not_found",
            "resolution_too_low",
        ],
    );
}

#[test]
fn pdf_page_content_inflating_to_1_gib() {
    let content = stream("/Filter /FlateDecode", &zeros_zlib(GIB));
    let bomb = one_page(content, "<< >>", Vec::new());
    assert_bounded(
        "flate_content_bomb.pdf",
        &bomb,
        &["file_corrupt", "pdf_no_image"],
    );
}

#[test]
fn pdf_with_resources_nested_100000_deep() {
    let deep = [b"[".repeat(100_000), b"]".repeat(100_000)].concat();
    let content = stream("", b"q 595 0 0 595 0 0 cm /Im0 Do Q");
    let mut resources = b"<< /XObject << /Im0 ".to_vec();
    resources.extend(&deep);
    resources.extend(b" >> >>");
    let bomb = one_page(content, "5 0 R", vec![resources]);
    assert_bounded("nested.pdf", &bomb, &["file_corrupt", "pdf_no_image"]);
}

#[test]
fn pdf_with_cyclic_references() {
    // Resources -> 5 -> 6 -> 5; the XObject dictionary contains itself; the
    // page's parent is a page tree that lists itself as a kid.
    let content = stream("", b"q 595 0 0 595 0 0 cm /Im0 Do /Im1 Do Q");
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 2 0 R 7 0 R] /Count 3 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R /Resources 5 0 R >>"
            .to_vec(),
        content,
        b"6 0 R".to_vec(),
        b"5 0 R".to_vec(),
        b"<< /Type /Pages /Parent 7 0 R /Kids [7 0 R 2 0 R] /Resources << /XObject 8 0 R >> >>"
            .to_vec(),
        b"<< /Im0 8 0 R /Im1 9 0 R >>".to_vec(),
        b"9 0 R".to_vec(),
    ];
    assert_bounded(
        "cyclic.pdf",
        &pdf(&objects),
        &["file_corrupt", "pdf_no_image"],
    );
}

#[test]
fn pdf_with_5000_pages() {
    // 5000 text-only pages, and an image only on the last one: only
    // limits.max_pdf_pages pages are searched.
    let pages = 5000usize;
    let first_page = 5usize;
    let kids: Vec<String> = (0..pages)
        .map(|i| format!("{} 0 R", first_page + i))
        .collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .into_bytes(),
        stream("", b"BT ET"),
        stream("", b"q 595 0 0 595 0 0 cm /Im0 Do Q"),
    ];
    let image_id = first_page + pages;
    for i in 0..pages {
        objects.push(if i + 1 == pages {
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R \
                 /Resources << /XObject << /Im0 {image_id} 0 R >> >> >>"
            )
            .into_bytes()
        } else {
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 3 0 R >>".to_vec()
        });
    }
    objects.push(stream(
        "/Type /XObject /Subtype /Image /Width 8 /Height 4 /ColorSpace /DeviceGray \
         /BitsPerComponent 8",
        &[128; 32],
    ));
    let bomb = pdf(&objects);
    assert_bounded("5000_pages.pdf", &bomb, &["pdf_no_image"]);
}

/// A 40 x 40 tile of dark specks (`#`): tiled over a page, it holds
/// Tesseract's page layout analysis for minutes.
const SPECKS: [&str; 40] = [
    "........................................",
    ".##.....................................",
    ".##.....................................",
    ".##.....................................",
    ".##.....###.............................",
    "........###.............................",
    ".........##.............................",
    "..................####..................",
    "..................####..................",
    "..................####..................",
    "...................###..................",
    "........................................",
    "........................................",
    "........................................",
    "......................####.......###....",
    "......................####.......###....",
    ".......................##........##.....",
    "............................####..#.....",
    "............................####........",
    ".............................#.#........",
    ".............................#..........",
    "........................................",
    "........................................",
    "........................................",
    "####..........................##........",
    "####..........................##........",
    ".###...........................#........",
    ".###....................................",
    "........................................",
    "........................................",
    "........................................",
    "........................................",
    "...........................#######......",
    "...........................#######......",
    "............................####.#......",
    "..........................######........",
    "..........................####..........",
    "............................##..........",
    "............................##..........",
    "........................................",
];

/// An 8-bit grey PNG of `w` x `h` tiled with [`SPECKS`], encoded by the `image` crate.
fn speckled_png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        let dark = SPECKS[y as usize % 40].as_bytes()[x as usize % 40] == b'#';
        image::Luma([if dark { 0 } else { 255 }])
    });
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut out,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::NoFilter,
    )
    .write_image(img.as_raw(), w, h, image::ExtendedColorType::L8)
    .unwrap();
    out
}

/// An A4 page at 300 dpi (2480 x 3508, a few KB of PNG) tiled with specks
/// and no MRZ goes to the full-page visual-zone OCR. With Tesseract's
/// column finding (page segmentation mode 4) its layout analysis ran for
/// more than 5 minutes (more than 10 at 80 MP), holding its worker; in one
/// block (mode 6) it is read in tens of seconds, and `ocr.viz_budget_ms`
/// stops the turns after the first reading: `image_unreadable`.
#[test]
fn speckled_a4_page_without_mrz() {
    let bomb = speckled_png(2480, 3508);
    assert!(bomb.len() < 5 << 20, "{}", bomb.len());
    assert_bounded(
        "speckled_a4.png",
        &bomb,
        &["image_unreadable", "mrz_not_found", "file_corrupt"],
    );
}

/// `pages` pages, each drawing its own image XObject (`dict`, `data`) over
/// the whole A4 page.
fn pages_with_image(pages: usize, dict: &str, data: &[u8]) -> Vec<u8> {
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 3 + 3 * i)).collect();
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .into_bytes(),
    ];
    for i in 0..pages {
        let (content, image) = (4 + 3 * i, 5 + 3 * i);
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {content} 0 R \
                 /Resources << /XObject << /Im0 {image} 0 R >> >> >>"
            )
            .into_bytes(),
        );
        objects.push(stream("", b"q 595 0 0 842 0 0 cm /Im0 Do Q"));
        objects.push(stream(dict, data));
    }
    pdf(&objects)
}

#[test]
fn pdf_of_16_pages_of_ccitt_images_drawn_by_the_renderer() {
    // Each page: a 9000 x 8800 CCITT G4 image (79 MP, within limits) of a few
    // bytes, which only the renderer draws (at 1089 dpi). The pixel budget over
    // all pages and the sandbox's limits (the renderer inherits them) hold.
    let bomb = pages_with_image(
        16,
        "/Type /XObject /Subtype /Image /Width 9000 /Height 8800 /ColorSpace /DeviceGray \
         /BitsPerComponent 1 /Filter /CCITTFaxDecode \
         /DecodeParms << /K -1 /Columns 9000 /Rows 8800 /BlackIs1 false >>",
        &[0x00, 0x10, 0x01, 0x00, 0x10, 0x01],
    );
    assert_bounded(
        "ccitt_pages.pdf",
        &bomb,
        &[
            "file_corrupt",
            "image_too_large",
            "image_unreadable",
            "mrz_not_found",
            "resolution_too_low",
            "extra_pages",
        ],
    );
}

#[test]
fn pdf_with_garbage_jbig2_and_jpx_streams() {
    // Random bytes under the renderer's filters: a finding, in bounded time.
    let noise: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for (name, filter) in [("jbig2.pdf", "/JBIG2Decode"), ("jpx.pdf", "/JPXDecode")] {
        let bomb = pages_with_image(
            2,
            &format!(
                "/Type /XObject /Subtype /Image /Width 2480 /Height 3508 \
                 /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter {filter}"
            ),
            &noise,
        );
        assert_bounded(
            name,
            &bomb,
            &[
                "file_corrupt",
                "pdf_no_image",
                "image_unreadable",
                "mrz_not_found",
                "resolution_too_low",
            ],
        );
    }
}
