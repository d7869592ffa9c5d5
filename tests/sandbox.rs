//! The PDF sandbox: lopdf runs in a child of the real binary, so a PDF that
//! crashes or exhausts the parser costs one finding, not the process.

use intake::runtime::sandbox::SandboxedPdf;
use intake_models::config::Limits;
use intake_models::ReasonCode;
use intake_stages::decode::{PageContent, PdfExtractor};

fn sandbox() -> SandboxedPdf {
    SandboxedPdf::with_exe(env!("CARGO_BIN_EXE_intake").into())
}

/// A PDF from numbered objects (object 1 the catalog), with a correct
/// cross-reference table.
pub fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").as_bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// One page drawing an 8 x 4 grey image at 8/300 x 4/300 inch: 300 dpi.
fn pdf_with_image(extra_object: Option<Vec<u8>>) -> Vec<u8> {
    let samples: Vec<u8> = (0..32u8).map(|i| i * 8).collect();
    let mut image =
        b"<< /Type /XObject /Subtype /Image /Width 8 /Height 4 /ColorSpace /DeviceGray \
                      /BitsPerComponent 8 /Length 32 >>\nstream\n"
            .to_vec();
    image.extend(&samples);
    image.extend(b"\nendstream");
    let content = b"q 1.92 0 0 0.96 0 0 cm /Im0 Do Q";
    let mut contents = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
    contents.extend(content);
    contents.extend(b"\nendstream");
    let mut objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 1.92 0.96] /Contents 4 0 R \
           /Resources << /XObject << /Im0 5 0 R >> >> >>"
            .to_vec(),
        contents,
        image,
    ];
    objects.extend(extra_object);
    pdf(&objects)
}

#[test]
fn a_good_pdf_comes_back_with_its_image_and_dpi() {
    let extracted = sandbox()
        .extract(&pdf_with_image(None), &Limits::default())
        .expect("extracted");
    assert_eq!(extracted.page_count, 1);
    let PageContent::Image {
        width,
        height,
        placement_dpi,
        rendered,
    } = extracted.pages[0].content
    else {
        panic!("no image: {:?}", extracted.pages);
    };
    assert_eq!((width, height, rendered), (8, 4, false));
    assert_eq!(extracted.data, (0..32u8).map(|i| i * 8).collect::<Vec<_>>());
    let dpi = placement_dpi.expect("placed");
    assert!((dpi - 300.0).abs() < 0.5, "{dpi}");
}

#[test]
fn hostile_pdfs_cost_one_finding_not_the_process() {
    // Deep nesting in an object nothing needs: the page's image still comes out.
    let deep = [b"[".repeat(200_000), b"]".repeat(200_000)].concat();
    assert!(sandbox()
        .extract(&pdf_with_image(Some(deep.clone())), &Limits::default())
        .is_ok());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("the page tree itself nested 200000 deep", {
            let kids = [
                b"<< /Type /Pages /Count 1 /Kids ".to_vec(),
                deep,
                b" >>".to_vec(),
            ]
            .concat();
            pdf(&[b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(), kids])
        }),
        ("random bytes after a header", {
            let mut b = b"%PDF-1.7\n".to_vec();
            b.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
            b
        }),
        ("a kids cycle", {
            pdf(&[
                b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
                b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>".to_vec(),
            ])
        }),
    ];
    for (name, bytes) in cases {
        let code = match sandbox().extract(&bytes, &Limits::default()) {
            Ok(_) => panic!("{name}: extracted an image from a PDF that has none"),
            Err(f) => f.code,
        };
        assert!(
            matches!(code, ReasonCode::FileCorrupt | ReasonCode::PdfNoImage),
            "{name}: {code:?}"
        );
    }
}

#[test]
fn a_parse_over_its_time_budget_is_stopped() {
    let limits = Limits {
        pdf_timeout_ms: 1,
        ..Limits::default()
    };
    let deep = [b"[".repeat(200_000), b"]".repeat(200_000)].concat();
    let started = std::time::Instant::now();
    let result = sandbox().extract(&pdf_with_image(Some(deep)), &limits);
    assert!(result.is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn the_renderer_draws_what_lopdf_cannot_and_its_absence_is_no_applicants_fault() {
    let g4 = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/producers/fixtures/imagemagick_g4.pdf");
    let g4 = std::fs::read(g4).expect("the committed G4 fixture");
    // CCITT G4: drawn by pdftoppm in the sandbox, at the image's own 300 dpi.
    let pages = sandbox().extract(&g4, &Limits::default()).expect("drawn");
    let PageContent::Image {
        width,
        height,
        placement_dpi,
        rendered,
    } = pages.pages[0].content
    else {
        panic!("no image: {:?}", pages.pages);
    };
    assert!(rendered);
    assert_eq!((width, height), (1546, 1109));
    assert!((placement_dpi.expect("placed") - 300.0).abs() < 1.0);
    // Without the renderer: processing_failed (a person looks), not a
    // finding that blames the file.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_intake"))
        .args([
            "check",
            "--json",
            "--kind",
            "passport",
            "--today",
            "2026-06-01",
        ])
        .arg("tests/producers/fixtures/imagemagick_g4.pdf")
        .env("INTAKE_PDF_RENDERER", "/nonexistent/pdftoppm")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("intake runs");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("a report");
    assert_eq!(crate::codes(&report), ["processing_failed"], "{report}");
    assert_eq!(report["verdict"], "needs_review");
}
