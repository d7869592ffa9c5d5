//! Per-stage and whole-check latency on the committed samples, one core.
//!
//! `make bench`, or `OMP_THREAD_LIMIT=1 cargo bench --bench check`: without
//! that variable Tesseract's OpenMP threads fight over the cores and its
//! figures come out ten times worse (libgomp reads it when it is loaded, so
//! the bench cannot set it itself; the `intake` binary re-executes itself).
//! Figures depend on the machine: compare ratios between runs on the same one.

use criterion::{criterion_group, criterion_main, Criterion};
use intake::check::engines::Engines;
use intake::runtime::sandbox::SandboxedPdf;
use intake::{CheckRequest, Checker};
use intake_models::config::Config;
use intake_models::FileFormat;
use intake_stages::dates::Date;
use intake_stages::decode::{self, InProcessPdf};
use intake_stages::{locate, ocr, qr, quality, sniff};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

fn sample(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("samples/committed")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stages(c: &mut Criterion) {
    let config = Config::default();
    let bytes = sample("passport.jpg");
    let mut group = c.benchmark_group("stages/passport_td3_300dpi_jpeg");
    group.bench_function("sniff", |b| b.iter(|| sniff::sniff(black_box(&bytes))));
    group.bench_function("decode", |b| {
        b.iter(|| decode::decode(&bytes, FileFormat::Jpeg, &InProcessPdf, &config.limits))
    });
    let image = match decode::decode(&bytes, FileFormat::Jpeg, &InProcessPdf, &config.limits) {
        Ok(decoded) => decoded.image,
        Err(f) => panic!("sample does not decode: {f:?}"),
    };
    group.bench_function("locate", |b| b.iter(|| locate::locate(black_box(&image))));
    let location = locate::locate(&image).expect("sample has an MRZ");
    let glyphs = ocr::glyphs::Glyphs::new().expect("the committed atlas loads");
    group.bench_function("ocr_mrz_glyphs", |b| {
        b.iter(|| glyphs.read_grid(&image, &location))
    });
    let mut reader = ocr::MrzOcr::new(&config.ocr).expect("Tesseract starts");
    group.bench_function("ocr_mrz_tesseract", |b| {
        b.iter(|| reader.read(&image, &location))
    });
    group.bench_function("quality", |b| {
        b.iter(|| quality::measure(&image, quality::Region::whole(&image), Some(300.0)))
    });
    group.bench_function("qr", |b| b.iter(|| qr::decode(black_box(&image))));
    group.finish();
}

fn whole_check(c: &mut Criterion) {
    let exe = env!("CARGO_BIN_EXE_intake").into();
    let checker = Checker::new(Config::default(), Box::new(SandboxedPdf::with_exe(exe)));
    let today = Date::new(2026, 6, 1).expect("a date");
    let mut engines = Engines::default();
    let mut group = c.benchmark_group("check");
    for name in ["passport.jpg", "id_card.pdf", "migration_card.jpg"] {
        let bytes = sample(name);
        group.bench_function(name, |b| {
            b.iter(|| {
                let request = CheckRequest {
                    file_name: name,
                    bytes: &bytes,
                    kind: None,
                    profile: None,
                    today,
                };
                checker.check(&mut engines, &request)
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).measurement_time(Duration::from_secs(5));
    targets = stages, whole_check
}
criterion_main!(benches);
