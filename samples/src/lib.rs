//! Deterministic generator of synthetic document scans with ground truth.
//!
//! `generate(out, count, seed)` writes `count` document scans (TD3 passports,
//! TD1 and TD2 ID cards, MRV-A visas, migration cards and residence-permit
//! pages), each rendered at a true dpi with the MRZ at its physical 2.54 mm
//! pitch, degraded like a real scan and saved as JPEG, PNG or PDF with
//! correct, missing or wrong density metadata; then the bad files every
//! upload handler meets; then `manifest.json` with the ground truth, the
//! expected verdict and declared profiles (matching, equivalent, mismatched).
//! [`every_kind`] writes one document of every kind without an MRZ, valid
//! and expired. The same seed gives the same files.

pub mod bad;
pub mod date;
pub mod degrade;
pub mod documents;
pub mod encode;
pub mod mrz;
pub mod people;
pub mod render;
pub mod translit;

use date::{Date, TODAY};
use degrade::Degradation;
use documents::{Document, Validity, VizLayout};
use encode::PdfImage;
use image::GrayImage;
use intake_models::{DocumentFields, DocumentKind, MrzFormat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Why the generator stopped.
#[derive(Debug, thiserror::Error)]
pub enum SamplesError {
    #[error(transparent)]
    Fonts(#[from] render::FontError),
    #[error(transparent)]
    Encode(#[from] encode::EncodeError),
    #[error("cannot write {path}: {cause}")]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
}

/// The ground truth of a generated set.
#[derive(Debug, Serialize)]
pub struct Manifest {
    pub seed: u64,
    /// The submission date the expected verdicts assume (`--today`).
    pub today: String,
    pub entries: Vec<Entry>,
}

/// One generated file.
#[derive(Debug, Serialize)]
pub struct Entry {
    pub file: String,
    /// The content format (`jpeg`, `png`, `pdf`, or what a bad file is).
    pub format: String,
    pub kind: Option<DocumentKind>,
    pub mrz_format: Option<MrzFormat>,
    pub true_dpi: Option<f32>,
    /// The density the file claims, if any.
    pub metadata_dpi: Option<f32>,
    pub degradation: Option<&'static str>,
    /// What a print or scan class drew (cap height, rasteriser, keystone...);
    /// absent for the other classes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variation: Option<degrade::Variation>,
    /// The fields as intake must report them; `null` for bad files.
    pub fields: Option<DocumentFields>,
    pub mrz_lines: Vec<String>,
    pub qr: Option<String>,
    pub names_truncated: bool,
    /// Without a profile, on `today`.
    pub expected_verdict: &'static str,
    pub expected_codes: Vec<&'static str>,
    pub profiles: Vec<ProfileFile>,
}

/// A declared profile written next to the scans.
#[derive(Debug, Serialize)]
pub struct ProfileFile {
    /// `matching`, `transliteration`, `transliteration_old`, `date_format`,
    /// or `mismatch_<field>`.
    pub name: String,
    pub file: String,
}

/// The MRZ layouts drawn, in turn; `None` is a document without an MRZ.
const LAYOUTS: [Option<MrzFormat>; 6] = [
    Some(MrzFormat::TD3),
    Some(MrzFormat::TD1),
    Some(MrzFormat::MrvA),
    Some(MrzFormat::TD3),
    Some(MrzFormat::TD2),
    None,
];

/// Clean scans come at these true resolutions, in turn.
const CLEAN_DPI: [f32; 4] = [300.0, 400.0, 300.0, 600.0];

/// Writes `count` documents, the bad files and `manifest.json` to `out`.
pub fn generate(out: &Path, count: usize, seed: u64) -> Result<Manifest, SamplesError> {
    write(out, "profiles/.keep", b"")?;
    let fonts = render::Fonts::load()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut entries = Vec::with_capacity(count + 12);
    for i in 0..count {
        entries.push(document_entry(out, i, &fonts, &mut rng)?);
    }
    let sample = Document::generate(&mut rng, Some(MrzFormat::TD3), Validity::Valid);
    let scan = sample.render(&fonts, 300.0);
    for file in bad::all(&scan, &mut rng)? {
        write(out, file.name, &file.bytes)?;
        entries.push(bad_entry(file.name, file.format, file.expected_code));
    }
    write_manifest(out, seed, entries)
}

/// The documents of one person (an account's set): a passport expiring
/// 300 days after [`TODAY`], a visa expiring after 500 and a migration
/// card after 400, both naming the passport's number, clean 300-dpi JPEGs
/// named `passport.jpg`, `visa.jpg`, `migration_card.jpg`, each with its
/// profiles; a second person's passport, `other_passport.jpg`; and this
/// person's migration card naming that other passport,
/// `migration_card_other_passport.jpg`. The same seed gives the same files.
pub fn one_person(out: &Path, seed: u64) -> Result<Manifest, SamplesError> {
    write(out, "profiles/.keep", b"")?;
    let fonts = render::Fonts::load()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let holder = cyrillic_named(&mut rng);
    let plan = [
        ("passport", Some(MrzFormat::TD3), 300),
        ("visa", Some(MrzFormat::MrvA), 500),
        ("migration_card", None, 400),
    ];
    let clean = |stem: &str| Scan::clean_jpeg(stem.to_string(), 85);
    let mut entries = Vec::new();
    let mut passport = None;
    let mut card = None;
    for (stem, format, days) in plan {
        let expiry = Some(TODAY.add_days(days));
        let mut doc =
            Document::for_holder(&mut rng, holder.clone(), format, Validity::Valid, expiry);
        if doc.kind.is_stay_document() {
            doc.names_passport = passport.clone();
        } else {
            passport = doc.fields.document_number.clone();
        }
        entries.push(write_scan(out, &doc, &clean(stem), &fonts, &mut rng)?);
        if doc.kind == DocumentKind::MigrationCard {
            card = Some(doc);
        }
    }
    let other = Document::generate(&mut rng, Some(MrzFormat::TD3), Validity::Valid);
    entries.push(write_scan(
        out,
        &other,
        &clean("other_passport"),
        &fonts,
        &mut rng,
    )?);
    if let Some(mut card) = card {
        card.names_passport = other.fields.document_number.clone();
        let scan = clean("migration_card_other_passport");
        entries.push(write_scan(out, &card, &scan, &fonts, &mut rng)?);
    }
    write_manifest(out, seed, entries)
}

/// One document of every kind drawn without an MRZ (all but the passport,
/// ID card and visa, and the proof of address, which has no layout of its
/// own): `<kind>.jpg`, valid on [`TODAY`], and `<kind>_expired.jpg`, of
/// another holder, expired, each in another visual-zone layout; and a
/// passport in every layout, as issued (`passport_issued_N.jpg`) and with its
/// visual zone altered (`passport_altered_N.jpg`, `viz_mismatch`); clean
/// 300-dpi JPEGs with their profiles. The holders have Cyrillic names, which
/// Russian documents print. The same seed gives the same files.
pub fn every_kind(out: &Path, seed: u64) -> Result<Manifest, SamplesError> {
    write(out, "profiles/.keep", b"")?;
    let fonts = render::Fonts::load()?;
    let mut rng = StdRng::seed_from_u64(seed);
    let kinds = DocumentKind::ALL
        .into_iter()
        .filter(|k| !k.has_mrz() && *k != DocumentKind::AddressProof);
    let mut entries = Vec::new();
    // Each kind in two layouts, and every layout in several kinds.
    for (i, kind) in kinds.enumerate() {
        for (validity, suffix, layout) in [
            (Validity::Valid, "", i),
            (Validity::Expired, "_expired", i + 2),
        ] {
            let holder = cyrillic_named(&mut rng);
            let doc = Document::without_mrz(&mut rng, holder, kind, validity).with_layout(layout);
            let scan = Scan::clean_jpeg(format!("{}{suffix}", kind.as_str()), 90);
            entries.push(write_scan(out, &doc, &scan, &fonts, &mut rng)?);
        }
    }
    // A passport in each layout, as issued and with its visual zone altered
    // (`viz_mismatch`): the visual zone of an MRZ document is held against it.
    for layout in 0..VizLayout::COUNT {
        let holder = cyrillic_named(&mut rng);
        let doc = Document::for_holder(
            &mut rng,
            holder,
            Some(MrzFormat::TD3),
            Validity::Valid,
            None,
        )
        .with_layout(layout);
        let altered = doc.clone().with_altered_visual_zone();
        for (doc, name) in [(doc, "issued"), (altered, "altered")] {
            let scan = Scan::clean_jpeg(format!("passport_{name}_{layout}"), 90);
            entries.push(write_scan(out, &doc, &scan, &fonts, &mut rng)?);
        }
    }
    write_manifest(out, seed, entries)
}

/// The first holder drawn whose names have a Cyrillic original.
fn cyrillic_named(rng: &mut StdRng) -> people::Person {
    loop {
        let person = people::Person::generate(rng);
        if person.cyrillic.is_some() {
            return person;
        }
    }
}

fn bad_entry(name: &str, format: &str, expected_code: &'static str) -> Entry {
    Entry {
        file: name.to_string(),
        format: format.to_string(),
        kind: None,
        mrz_format: None,
        true_dpi: None,
        metadata_dpi: None,
        degradation: None,
        variation: None,
        fields: None,
        mrz_lines: Vec::new(),
        qr: None,
        names_truncated: false,
        expected_verdict: "needs_correction",
        expected_codes: vec![expected_code],
        profiles: Vec::new(),
    }
}

fn write_manifest(out: &Path, seed: u64, entries: Vec<Entry>) -> Result<Manifest, SamplesError> {
    let manifest = Manifest {
        seed,
        today: TODAY.iso(),
        entries,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| SamplesError::Write {
        path: out.join("manifest.json"),
        cause: e.into(),
    })?;
    write(out, "manifest.json", &json)?;
    Ok(manifest)
}

/// How one document is scanned and saved.
struct Scan {
    stem: String,
    degradation: Degradation,
    dpi: f32,
    /// `jpeg`, `png` or `pdf`.
    format: &'static str,
    extension: &'static str,
    metadata_dpi: Option<f32>,
    pdf_image: PdfImage,
    jpeg_quality: u8,
}

impl Scan {
    /// A clean 300-dpi JPEG that says 300 dpi: how the account sets are scanned.
    fn clean_jpeg(stem: String, jpeg_quality: u8) -> Scan {
        Scan {
            stem,
            degradation: Degradation::Clean,
            dpi: 300.0,
            format: "jpeg",
            extension: "jpg",
            metadata_dpi: Some(300.0),
            pdf_image: PdfImage::Jpeg,
            jpeg_quality,
        }
    }
}

/// The `i`-th document: layouts, degradations, dpi and formats rotate so that
/// any dozen consecutive documents cover them all; one document in two is clean.
fn document_entry(
    out: &Path,
    i: usize,
    fonts: &render::Fonts,
    rng: &mut StdRng,
) -> Result<Entry, SamplesError> {
    // Pairs share a layout; the pairing of layouts and degradations shifts
    // every 24 documents.
    let layout = LAYOUTS[(i / 2 + i / 24) % LAYOUTS.len()];
    let validity = match rng.gen_range(0..12) {
        0 => Validity::Expired,
        1 if layout == Some(MrzFormat::TD3) => Validity::ExpiringSoon,
        _ => Validity::Valid,
    };
    let doc = Document::generate(rng, layout, validity);
    let degradation = if i.is_multiple_of(2) {
        Degradation::Clean
    } else {
        Degradation::ALL[1 + (i / 2) % (Degradation::ALL.len() - 1)]
    };
    let dpi = match degradation {
        Degradation::Clean => CLEAN_DPI[(i / 2) % CLEAN_DPI.len()],
        Degradation::LowDpi => rng.gen_range(150.0..220.0f32).round(),
        other => other.dpi().unwrap_or(300.0),
    };
    // Formats rotate independently of layouts; an A4 page is never a PNG
    // (a 300 dpi A4 PNG of a real scan is over the size limit).
    let mut format = ["jpeg", "png", "pdf"][(i / 6 + i) % 3];
    if degradation == Degradation::A4Page && format == "png" {
        format = "jpeg";
    }
    let metadata_dpi = match (format, i % 5) {
        ("pdf", _) => None,
        (_, 3) => None,
        // A scanner default that does not match the scan.
        (_, 4) => Some(72.0),
        _ => Some(dpi),
    };
    // One PNG in six is named .jpg: judged by content, it passes.
    let extension = match format {
        "png" if i % 6 == 1 => "jpg",
        "jpeg" => "jpg",
        other => other,
    };
    let scan = Scan {
        stem: format!(
            "{i:03}_{}_{}",
            layout.map_or(doc.kind.as_str(), mrz_format_name),
            degradation.as_str()
        ),
        degradation,
        dpi,
        format,
        extension,
        metadata_dpi,
        pdf_image: if i % 4 < 2 {
            PdfImage::Jpeg
        } else {
            PdfImage::Flate
        },
        jpeg_quality: if degradation == Degradation::JpegLow {
            35
        } else {
            90
        },
    };
    write_scan(out, &doc, &scan, fonts, rng)
}

/// Renders, degrades and saves `doc` as `scan` says, with its profiles.
fn write_scan(
    out: &Path,
    doc: &Document,
    scan: &Scan,
    fonts: &render::Fonts,
    rng: &mut StdRng,
) -> Result<Entry, SamplesError> {
    let (degradation, dpi) = (scan.degradation, scan.dpi);
    let mut variation = degrade::Variation::default();
    let style = degradation.render_style(rng, &mut variation);
    let rendered = doc.render_with(fonts, dpi, &style);
    let image = degrade::apply_at(
        rendered.image,
        rendered.mrz_box,
        degradation,
        dpi,
        rng,
        &mut variation,
    );
    let bytes = match scan.format {
        "jpeg" => encode::jpeg(
            &image,
            scan.jpeg_quality,
            scan.metadata_dpi.map(|d| d as u16),
        )?,
        "png" => encode::png(&image, scan.metadata_dpi)?,
        _ => encode::pdf(&image, dpi, scan.pdf_image, scan.jpeg_quality)?,
    };
    let file = format!("{}.{}", scan.stem, scan.extension);
    write(out, &file, &bytes)?;

    let (mut verdict, mut codes) = doc.expected();
    // Without an MRZ nothing on the page measures the resolution, so a file
    // that claims less than 300 dpi is taken at its word.
    let claims_too_low = doc.mrz_format.is_none() && scan.metadata_dpi.is_some_and(|d| d < 300.0);
    let low_resolution = claims_too_low.then_some("resolution_too_low");
    for code in degradation
        .expected_code()
        .into_iter()
        .chain(low_resolution)
    {
        // The gravest finding decides: an expired document stays rejected
        // however it was scanned (a reader that reads it knows).
        if verdict != "rejected" {
            verdict = "needs_correction";
        }
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    codes.extend(degradation.info_code());
    let profiles = write_profiles(out, &scan.stem, doc)?;
    Ok(Entry {
        file,
        format: scan.format.to_string(),
        kind: Some(doc.kind),
        mrz_format: doc.mrz_format,
        true_dpi: Some(dpi),
        metadata_dpi: scan.metadata_dpi,
        degradation: Some(degradation.as_str()),
        variation: (!variation.is_empty()).then_some(variation),
        fields: Some(doc.fields.clone()),
        mrz_lines: doc.mrz_lines.clone(),
        qr: doc.qr.clone(),
        names_truncated: doc.names_truncated,
        expected_verdict: verdict,
        expected_codes: codes,
        profiles,
    })
}

/// The small set committed under `samples/committed/` for the README, the
/// demo and the tests: one of each kind, an upside-down scan, a lying
/// extension and a BMP, under 2 MB in all.
pub fn showcase(out: &Path) -> Result<Manifest, SamplesError> {
    let fonts = render::Fonts::load()?;
    let mut rng = StdRng::seed_from_u64(2026);
    let scan = |stem: &str, degradation, format, extension| Scan {
        stem: stem.to_string(),
        degradation,
        dpi: 300.0,
        format,
        extension,
        metadata_dpi: Some(300.0),
        pdf_image: PdfImage::Jpeg,
        // Small enough to commit, still far above what reading needs.
        jpeg_quality: 75,
    };
    let plan = [
        (
            Some(MrzFormat::TD3),
            scan("passport", Degradation::Clean, "jpeg", "jpg"),
        ),
        (
            Some(MrzFormat::TD3),
            scan("passport_upside_down", Degradation::Rot180, "jpeg", "jpg"),
        ),
        (
            Some(MrzFormat::TD1),
            scan("id_card", Degradation::Clean, "pdf", "pdf"),
        ),
        (
            Some(MrzFormat::TD1),
            scan("id_card_png_named_jpg", Degradation::Clean, "png", "jpg"),
        ),
        (
            Some(MrzFormat::MrvA),
            scan("visa", Degradation::Skew, "jpeg", "jpg"),
        ),
        (
            None,
            scan("migration_card", Degradation::Clean, "jpeg", "jpg"),
        ),
    ];
    let mut entries = Vec::new();
    for (layout, scan) in plan {
        // Holders from Central Asia, whose names have Cyrillic originals.
        let doc = loop {
            let doc = Document::generate(&mut rng, layout, Validity::Valid);
            if doc.holder.cyrillic.is_some() && doc.kind != DocumentKind::ResidencePermit {
                break doc;
            }
        };
        entries.push(write_scan(out, &doc, &scan, &fonts, &mut rng)?);
    }
    let bmp = bad::all(&GrayImage::new(8, 8), &mut rng)?
        .into_iter()
        .find(|f| f.format == "bmp");
    if let Some(file) = bmp {
        let name = "passport_scan.bmp";
        write(out, name, &file.bytes)?;
        entries.push(bad_entry(name, file.format, file.expected_code));
    }
    write_manifest(out, 2026, entries)
}

fn mrz_format_name(format: MrzFormat) -> &'static str {
    match format {
        MrzFormat::TD1 => "td1",
        MrzFormat::TD2 => "td2",
        MrzFormat::TD3 => "td3",
        MrzFormat::MrvA => "mrva",
        MrzFormat::MrvB => "mrvb",
    }
}

/// The profiles an applicant could declare for `doc`: the form as filled in
/// (full names, ISO dates), equivalent spellings, and one-field mismatches.
fn write_profiles(
    out: &Path,
    stem: &str,
    doc: &Document,
) -> Result<Vec<ProfileFile>, SamplesError> {
    let truth = &doc.fields;
    let latin = &doc.holder.latin;
    let matching = DocumentFields {
        surname: Some(latin.surname.clone()),
        given_names: Some(latin.given_names.clone()).filter(|g| !g.is_empty()),
        document_number: truth.document_number.clone(),
        nationality: truth.nationality.clone(),
        birth_date: truth.birth_date.clone(),
        sex: truth.sex.clone(),
        expiry_date: truth.expiry_date.clone(),
        ..DocumentFields::default()
    };
    let mut profiles = vec![("matching", matching.clone())];
    if let Some(cyrillic) = &doc.holder.cyrillic {
        profiles.push((
            "transliteration",
            DocumentFields {
                surname: Some(cyrillic.surname.clone()),
                given_names: Some(cyrillic.given_names.clone()).filter(|g| !g.is_empty()),
                ..matching.clone()
            },
        ));
    }
    if let Some(old) = doc.holder.older_latin() {
        profiles.push((
            "transliteration_old",
            DocumentFields {
                surname: Some(old.surname),
                given_names: Some(old.given_names).filter(|g| !g.is_empty()),
                ..matching.clone()
            },
        ));
    }
    let dotted = |iso: &Option<String>| iso.as_deref().and_then(Date::parse_iso).map(Date::dotted);
    profiles.push((
        "date_format",
        DocumentFields {
            birth_date: dotted(&matching.birth_date),
            expiry_date: dotted(&matching.expiry_date),
            ..matching.clone()
        },
    ));
    profiles.push((
        "mismatch_surname",
        DocumentFields {
            surname: Some(change_one_letter(&latin.surname)),
            ..matching.clone()
        },
    ));
    profiles.push((
        "mismatch_birth_date",
        DocumentFields {
            birth_date: matching
                .birth_date
                .as_deref()
                .and_then(Date::parse_iso)
                .map(|d| d.add_years(-1).iso()),
            ..matching.clone()
        },
    ));
    profiles.push((
        "mismatch_document_number",
        DocumentFields {
            document_number: matching.document_number.as_deref().map(change_last_digit),
            ..matching.clone()
        },
    ));

    let mut files = Vec::with_capacity(profiles.len());
    for (name, profile) in profiles {
        let file = format!("profiles/{stem}.{name}.json");
        let json = serde_json::to_vec_pretty(&profile).map_err(|e| SamplesError::Write {
            path: out.join(&file),
            cause: e.into(),
        })?;
        write(out, &file, &json)?;
        files.push(ProfileFile {
            name: name.to_string(),
            file,
        });
    }
    Ok(files)
}

/// A typo no transliteration explains: a middle letter becomes `M` (or `R`).
fn change_one_letter(name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    let middle = chars.len() / 2;
    if let Some(c) = chars.get_mut(middle) {
        *c = if *c == 'M' { 'R' } else { 'M' };
    }
    chars.into_iter().collect()
}

fn change_last_digit(number: &str) -> String {
    let mut chars: Vec<char> = number.chars().collect();
    if let Some(c) = chars.iter_mut().rev().find(|c| c.is_ascii_digit()) {
        *c = if *c == '7' { '3' } else { '7' };
    }
    chars.into_iter().collect()
}

fn write(out: &Path, name: &str, bytes: &[u8]) -> Result<(), SamplesError> {
    let path = out.join(name);
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&path, bytes));
    written.map_err(|source| SamplesError::Write {
        path,
        cause: source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_change_exactly_one_character() {
        assert_eq!(change_one_letter("TURSUNOV"), "TURSMNOV");
        assert_eq!(change_last_digit("FA1234567"), "FA1234563");
        assert_eq!(change_last_digit("AB12"), "AB17");
    }

    #[test]
    fn the_same_seed_gives_the_same_set() {
        let a = tempdir("a");
        let b = tempdir("b");
        let ma = generate(&a, 7, 11).unwrap();
        let mb = generate(&b, 7, 11).unwrap();
        assert_eq!(ma.entries.len(), mb.entries.len());
        for e in &ma.entries {
            let x = std::fs::read(a.join(&e.file)).unwrap();
            let y = std::fs::read(b.join(&e.file)).unwrap();
            assert!(x == y, "{} differs between runs", e.file);
        }
        let _ = std::fs::remove_dir_all(a);
        let _ = std::fs::remove_dir_all(b);
    }

    /// Every class, the print and capture classes included, gives the same
    /// bytes from the same seed (the set above is too small to hold them all).
    #[test]
    fn every_class_renders_the_same_twice() {
        let fonts = render::Fonts::load().unwrap();
        let (a, b) = (tempdir("class-a"), tempdir("class-b"));
        for (k, degradation) in Degradation::ALL.into_iter().enumerate() {
            let layout = [MrzFormat::TD1, MrzFormat::TD3][k % 2];
            let run = |out: &Path| {
                let mut rng = StdRng::seed_from_u64(k as u64);
                let doc = Document::generate(&mut rng, Some(layout), Validity::Valid);
                let scan = Scan {
                    stem: degradation.as_str().to_string(),
                    degradation,
                    dpi: degradation.dpi().unwrap_or(300.0),
                    format: "png",
                    extension: "png",
                    metadata_dpi: None,
                    pdf_image: PdfImage::Flate,
                    jpeg_quality: 90,
                };
                let entry = write_scan(out, &doc, &scan, &fonts, &mut rng).unwrap();
                (entry.file, entry.variation)
            };
            let (file, variation) = run(&a);
            assert_eq!((file.clone(), variation.clone()), run(&b));
            let x = std::fs::read(a.join(&file)).unwrap();
            let y = std::fs::read(b.join(&file)).unwrap();
            assert!(x == y, "{file} differs between runs");
            let print_class = matches!(
                degradation,
                Degradation::Guilloche
                    | Degradation::CardEdge
                    | Degradation::CapHeight
                    | Degradation::OtherRasteriser
                    | Degradation::Perspective
            );
            assert_eq!(variation.is_some(), print_class, "{file}");
        }
        let _ = std::fs::remove_dir_all(a);
        let _ = std::fs::remove_dir_all(b);
    }

    fn tempdir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("intake-samples-unit-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
