//! `check`: one file through every stage to one [`Report`].
//!
//! The order is the SPEC's: sniff → limits → decode → resolution → quality →
//! locate+OCR → parse → QR → cross-match → validity → verdict. Cheap checks
//! come first and stop the file at the first finding that makes reading it
//! pointless; after decoding, every stage adds its findings and the verdict
//! weighs them all.

pub mod engines;

use crate::digest::sha256_hex;
use engines::Engines;
use image::GrayImage;
use intake_models::{
    Checks, Config, Document, DocumentFields, DocumentKind, DpiSource, Field, Finding, MrzReading,
    Profile, Quality, ReasonCode, Report, Verdict,
};
use intake_stages::dates::Date;
use intake_stages::decode::PdfExtractor;
use intake_stages::locate::{self, MrzLocation};
use intake_stages::messages::{finding, kind_mismatch};
use intake_stages::ocr::{self, MrzRead, OcrError};
use intake_stages::quality::Region;
use intake_stages::timings::Timings;
use intake_stages::{
    cross_match, decode, kinds, limits, mrz, pages, qr, quality, raster, resolution, sniff,
    validity, verdict, viz,
};
use std::collections::BTreeMap;
use std::time::Instant;

/// What the caller knows about an upload besides its bytes.
#[derive(Debug, Clone)]
pub struct CheckRequest<'a> {
    /// The name the file came with: shown in the report, and used only to
    /// word the finding for unrecognised content, never to judge the format.
    pub file_name: &'a str,
    pub bytes: &'a [u8],
    /// The declared kind; `None` tells it from the document.
    pub kind: Option<DocumentKind>,
    pub profile: Option<&'a Profile>,
    /// The submission date for validity rules.
    pub today: Date,
}

impl<'a> CheckRequest<'a> {
    /// The request of a stored job, `bytes` its upload: the one mapping
    /// from a job, so that the workers and the console read alike.
    pub fn of_job(job: &'a intake_models::Job, bytes: &'a [u8], today: Date) -> CheckRequest<'a> {
        CheckRequest {
            file_name: &job.file_name,
            bytes,
            kind: Some(job.kind),
            profile: job.profile.as_ref(),
            today,
        }
    }

    pub fn declared(&self) -> Declared<'_> {
        Declared {
            kind: self.kind,
            profile: self.profile,
            today: self.today,
        }
    }
}

/// What the stages after decoding weigh besides the image: what the
/// applicant declared with the upload, and the submission date.
#[derive(Debug, Clone, Copy)]
pub struct Declared<'a> {
    pub kind: Option<DocumentKind>,
    pub profile: Option<&'a Profile>,
    pub today: Date,
}

/// An upload after the decode stage, on its way to the read stage.
pub struct DecodedUpload {
    report: Report,
    timings: Timings,
    decoded: decode::Decoded,
    metadata_dpi: Option<f32>,
}

impl DecodedUpload {
    /// The report so far: the file's identity and what decoding found.
    pub fn identity(&self) -> Report {
        self.report.clone()
    }

    /// The decoded scan, upright as stored.
    pub fn image(&self) -> &GrayImage {
        &self.decoded.image
    }

    /// Makes page `number` of a PDF the one [`DecodedUpload::image`] shows
    /// (the page a report's `page_summary` says was checked).
    pub fn select_page(&mut self, number: u32) -> bool {
        self.decoded.page == number || self.decoded.select(number)
    }
}

/// Checks uploads against one configuration.
pub struct Checker {
    config: Config,
    pdf: Box<dyn PdfExtractor>,
}

impl Checker {
    pub fn new(config: Config, pdf: Box<dyn PdfExtractor>) -> Checker {
        Checker { config, pdf }
    }

    /// A report with the file's identity and no findings yet.
    pub fn identity(&self, request: &CheckRequest<'_>) -> Report {
        Report {
            file: request.file_name.to_string(),
            sha256: sha256_hex(request.bytes),
            verdict: Verdict::NeedsCorrection,
            findings: Vec::new(),
            checks: Checks {
                format: intake_models::FileFormat::Unknown,
                bytes: request.bytes.len() as u64,
                pages: 0,
                dpi: None,
                quality: None,
                page_summary: Vec::new(),
            },
            document: None,
            matches: Vec::new(),
            timings_ms: BTreeMap::new(),
        }
    }

    /// The report of a file whose check failed inside a stage, from the
    /// report of its identity.
    pub fn failed(mut report: Report) -> Report {
        report
            .findings
            .push(finding(ReasonCode::ProcessingFailed, None));
        report.verdict = verdict::decide(&report.findings);
        report
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs every stage on one upload. Never panics on input; a file that
    /// stops early still gets a full report with its finding. The only error
    /// is an OCR engine that cannot start (a broken installation).
    pub fn check(
        &self,
        engines: &mut Engines,
        request: &CheckRequest<'_>,
    ) -> Result<Report, OcrError> {
        match self.decode(request) {
            Ok(decoded) => self.read(engines, &request.declared(), decoded),
            Err(stopped) => Ok(*stopped),
        }
    }

    /// The decode stage: limits, sniff, decode, metadata dpi. `Err` is the
    /// finished report of a file that stops here.
    pub fn decode(&self, request: &CheckRequest<'_>) -> Result<DecodedUpload, Box<Report>> {
        let mut timings = Timings::default();
        let mut report = timings.time("hash", || self.identity(request));
        let limits = &self.config.limits;
        let bytes = request.bytes;
        let decoded = (|| -> Result<_, Finding> {
            timings.time("limits", || limits::check_bytes(bytes.len() as u64, limits))?;
            let format = timings.time("sniff", || {
                sniff::accept(sniff::sniff(bytes), Some(request.file_name))
            });
            report.checks.format = sniff::sniff(bytes);
            let format = format?;
            let decoded = timings.time("decode", || {
                decode::decode(bytes, format, self.pdf.as_ref(), limits)
            })?;
            let metadata_dpi =
                timings.time("resolution", || resolution::metadata_dpi(bytes, format));
            Ok((decoded, metadata_dpi))
        })();
        match decoded {
            Ok((decoded, metadata_dpi)) => {
                report.checks.pages = decoded.pages;
                if decoded.truncated.is_some() {
                    report
                        .findings
                        .push(finding(ReasonCode::FileTruncated, None));
                }
                Ok(DecodedUpload {
                    report,
                    timings,
                    decoded,
                    metadata_dpi,
                })
            }
            Err(stop) => {
                report.findings.push(stop);
                report.verdict = verdict::decide(&report.findings);
                report.timings_ms = timings.into_map();
                Err(Box::new(report))
            }
        }
    }

    /// The read stage: everything after decoding, to the verdict.
    pub fn read(
        &self,
        engines: &mut Engines,
        declared: &Declared<'_>,
        upload: DecodedUpload,
    ) -> Result<Report, OcrError> {
        let DecodedUpload {
            mut report,
            mut timings,
            decoded,
            metadata_dpi,
        } = upload;
        let read = self.run(
            engines,
            declared,
            decoded,
            metadata_dpi,
            &mut report,
            &mut timings,
        );
        match read {
            Ok(()) => {}
            Err(Stop::Finding(stop)) => report.findings.push(stop),
            Err(Stop::Engine(e)) => return Err(e),
        }
        report.verdict = verdict::decide(&report.findings);
        report.timings_ms = timings.into_map();
        Ok(report)
    }

    /// The stages after decoding; an `Err` is what stopped the file.
    fn run(
        &self,
        engines: &mut Engines,
        request: &Declared<'_>,
        mut decoded: decode::Decoded,
        metadata_dpi: Option<f32>,
        report: &mut Report,
        timings: &mut Timings,
    ) -> Result<(), Stop> {
        let wants_mrz = request.kind.is_none_or(DocumentKind::has_mrz);
        // The page that holds the declared document, and what the others hold.
        let pdf = report.checks.format == intake_models::FileFormat::Pdf;
        let glyphs = match decoded.other_pages.is_empty() {
            true => None,
            false => Some(engines::glyphs().map_err(Stop::Engine)?),
        };
        let choice = timings.time("locate", || {
            pages::choose(&mut decoded, request.kind, pdf, glyphs, request.today)
        });
        report.checks.page_summary = choice.summary;
        if choice.extra_pages {
            report.findings.push(finding(ReasonCode::ExtraPages, None));
        }
        let located = choice.location;
        let (image, read) = match located {
            Some(location) => {
                let turned = match location.rotation {
                    0 => decoded.image,
                    degrees => locate::turn(&decoded.image, degrees),
                };
                let glyphs = engines::glyphs().map_err(Stop::Engine)?;
                let (image, read) = ocr::read_mrz(
                    glyphs,
                    engines,
                    &self.config.ocr,
                    turned,
                    location,
                    request.today,
                    timings,
                )
                .map_err(Stop::Engine)?;
                (image, Some(read))
            }
            None => (decoded.image, None),
        };

        // Resolution: the MRZ pitch where there is one, else the document's
        // edges over its kind's physical size, else the PDF placement. What
        // is measured on a shrunk image counts at the scan's own size.
        let scale = decoded.scale;
        let measured = match &read {
            Some(r) => Some((r.location.effective_dpi() * scale, DpiSource::MrzPitch)),
            None => timings
                .time("resolution", || {
                    resolution::document_size::measure(&image, request.kind)
                })
                .map(|(d, _)| (d * scale, DpiSource::DocumentSize))
                .or(decoded.placement_dpi.map(|d| (d, DpiSource::PdfPlacement))),
        };
        let (dpi, low_dpi) = resolution::decide(metadata_dpi, measured, &self.config.resolution);
        report.checks.dpi = Some(dpi);
        report.findings.extend(low_dpi);

        let region = read.as_ref().map_or(Region::whole(&image), |r| {
            document_region(&image, &r.location)
        });
        // Quality scales the image it is given: that image's own resolution.
        let image_dpi = dpi.effective.or(dpi.metadata).map(|d| d / scale);
        let mut q: Quality =
            timings.time("quality", || quality::measure(&image, region, image_dpi));
        q.rotation = read.as_ref().map_or(0, |r| r.location.rotation);
        report.checks.quality = Some(q);
        let unreadable = quality::judge(&q, &self.config.quality);
        let page_unreadable = unreadable.is_some();
        report.findings.extend(unreadable);
        if q.rotation != 0 {
            report.findings.push(finding(ReasonCode::AutoRotated, None));
        }

        let qr = timings.time("qr", || qr::decode(&image));

        let (kind, fields, mrz_reading, names_truncated, printed) = match read {
            Some(MrzRead {
                parsed: Some(parsed),
                unsure,
                alternatives,
                location,
                ..
            }) => {
                let shown = mrz::document_kind(&parsed);
                let kind = match request.kind {
                    Some(declared) if mrz::kind_compatible(declared, &parsed) => declared,
                    Some(declared) => {
                        report.findings.push(kind_mismatch(declared, shown));
                        shown
                    }
                    None => shown,
                };
                if !parsed.reading.check_digits_valid {
                    report
                        .findings
                        .push(finding(ReasonCode::MrzChecksumFailed, None));
                }
                // A doubtful letter where no check digit can confirm it.
                let mut doubtful: Vec<Field> = Vec::new();
                for &(line, column) in &unsure {
                    let lines = &parsed.reading.lines;
                    let field = mrz::unchecked_field(lines, parsed.reading.format, line, column);
                    if let Some(field) = field.filter(|f| !doubtful.contains(f)) {
                        doubtful.push(field);
                    }
                }
                // A field some close call could change with every check
                // digit still agreeing: no check digit settles it.
                let unsettled = mrz::unsettled_fields(&parsed, &alternatives, request.today);
                for field in unsettled {
                    if !doubtful.contains(&field) {
                        doubtful.push(field);
                    }
                }
                for field in doubtful {
                    report
                        .findings
                        .push(finding(ReasonCode::LowConfidence, Some(field)));
                }
                let mut printed = None;
                if self.config.ocr.viz_cross_check && !page_unreadable {
                    let viz = engines.viz(&self.config.ocr).map_err(Stop::Engine)?;
                    let zone = visual_zone(&image, &location);
                    let text = timings.time("ocr", || viz.read(&zone));
                    let reading = timings.time("parse", || viz::read_fields(&text));
                    for field in
                        viz::disagreements(&reading, &parsed.fields, parsed.names_truncated)
                    {
                        report
                            .findings
                            .push(finding(ReasonCode::VizMismatch, Some(field)));
                    }
                    printed = Some(reading);
                }
                (
                    kind,
                    parsed.fields,
                    Some(parsed.reading),
                    parsed.names_truncated,
                    printed,
                )
            }
            Some(MrzRead {
                parsed: None,
                location,
                lines,
                ..
            }) => {
                // Seen but not read: report what was read for the reviewer.
                report
                    .findings
                    .push(finding(ReasonCode::MrzUnreadable, None));
                let kind = request.kind.unwrap_or(DocumentKind::Passport);
                let reading = MrzReading {
                    format: location.formats()[0],
                    lines,
                    check_digits_valid: false,
                    corrections: 0,
                };
                report.document = Some(Document {
                    kind,
                    mrz: Some(reading),
                    fields: DocumentFields::default(),
                    qr,
                    passport_number: None,
                });
                return Ok(());
            }
            None if wants_mrz && request.kind.is_some() => {
                return Err(finding(ReasonCode::MrzNotFound, None).into());
            }
            // A page too blurred, dark or flat to read, with no MRZ seen:
            // OCR would spend seconds to find nothing. The applicant is
            // already asked for a clearer scan.
            None if page_unreadable => return Ok(()),
            None => {
                let viz = engines.viz(&self.config.ocr).map_err(Stop::Engine)?;
                // No MRZ to tell the orientation: read upright, and only if
                // nothing is recognised there, turned.
                let mut reading = viz::VizReading::default();
                let started = Instant::now();
                let budget = std::time::Duration::from_millis(self.config.ocr.viz_budget_ms);
                // The way the text runs is told from the page's blobs first:
                // two turns to read, not four.
                let turns: &[u16] = match timings.time("locate", || locate::text_direction(&image))
                {
                    Some(0) => &[0, 180],
                    Some(_) => &[90, 270],
                    None => &[0, 180, 90, 270],
                };
                for &degrees in turns {
                    // A page that takes Tesseract this long unread is not a
                    // document it can read: no more turns, and the applicant
                    // is asked for a clearer scan.
                    if degrees != 0 && started.elapsed() > budget {
                        return Err(finding(ReasonCode::ImageUnreadable, None).into());
                    }
                    let turned = (degrees != 0).then(|| locate::turn(&image, degrees));
                    let page = turned.as_ref().unwrap_or(&image);
                    let text = timings.time("ocr", || viz.read(page));
                    reading = timings.time("parse", || viz::read_fields(&text));
                    if reading.title_kind.is_some() || !reading.confident.is_empty() {
                        if degrees != 0 {
                            report.findings.push(finding(ReasonCode::AutoRotated, None));
                            if let Some(q) = report.checks.quality.as_mut() {
                                q.rotation = degrees;
                            }
                        }
                        break;
                    }
                }
                let kind = match (request.kind, reading.title_kind) {
                    // The title names another kind: the declared one is not
                    // this document.
                    (Some(declared), Some(shown)) if !kinds::fits(declared, shown) => {
                        report.findings.push(kind_mismatch(declared, shown));
                        shown
                    }
                    (Some(declared), _) => declared,
                    // Undeclared, a page titled passport without a zone may
                    // be a foreign passport whose zone was not seen: it is
                    // asked for again, never taken for a national passport.
                    (None, Some(DocumentKind::NationalPassport)) => {
                        return Err(finding(ReasonCode::MrzNotFound, None).into())
                    }
                    (None, Some(shown)) => shown,
                    (None, None) => return Err(finding(ReasonCode::MrzNotFound, None).into()),
                };
                // Only validated values count as read; the QR fills what OCR missed
                // (and is checked against what OCR read, below).
                let mut fields = DocumentFields::default();
                for field in Field::ALL {
                    let value = reading
                        .confident
                        .contains(&field)
                        .then(|| reading.fields.get(field))
                        .flatten()
                        .or_else(|| qr.as_ref().and_then(|q| q.fields.get(field)));
                    fields.set(field, value.map(str::to_string));
                }
                // What cannot be confirmed goes to a person, never to `accepted`.
                if validity::expires(kind) && fields.expiry_date.is_none() {
                    report
                        .findings
                        .push(finding(ReasonCode::LowConfidence, Some(Field::ExpiryDate)));
                }
                if fields == DocumentFields::default() {
                    report
                        .findings
                        .push(finding(ReasonCode::LowConfidence, None));
                }
                (kind, fields, None, false, Some(reading))
            }
        };

        if let Some(q) = &qr {
            report
                .findings
                .extend(qr::check_against(q, &fields, names_truncated));
        }
        report.findings.extend(timings.time("validity", || {
            validity::check(kind, &fields, request.today, &self.config.validity)
        }));
        if let Some(profile) = request.profile {
            let (matches, found) = timings.time("match", || {
                cross_match::compare(profile, &fields, names_truncated)
            });
            report.matches = matches;
            report.findings.extend(found);
        }
        // Only a stay document's naming of a passport is held against one.
        let passport_number = printed
            .and_then(|p| p.passport_number)
            .filter(|_| kind.is_stay_document());
        report.document = Some(Document {
            kind,
            mrz: mrz_reading,
            fields,
            qr,
            passport_number,
        });
        Ok(())
    }
}

/// Why a file stopped before the verdict.
enum Stop {
    /// A finding that makes reading further pointless.
    Finding(Finding),
    /// An OCR engine that cannot start: an installation problem, not the file's.
    Engine(OcrError),
}

impl From<Finding> for Stop {
    fn from(f: Finding) -> Stop {
        Stop::Finding(f)
    }
}

/// The document around an MRZ: its width, and upwards to the page's top
/// (a TD3 page is 88 mm tall, 35 pitches of 2.54 mm).
fn document_region(image: &GrayImage, location: &MrzLocation) -> Region {
    let (Some(first), Some(last)) = (location.lines.first(), location.lines.last()) else {
        return Region::whole(image);
    };
    let pitch = location.pitch();
    let (x0, y0) = first.origin;
    let (x1, y1) = last.cell_center(last.cells - 1);
    let height = match location.shape.0 {
        3 => 21.0, // TD1: 54 mm
        _ => 34.0,
    } * pitch;
    Region::clipped(
        image,
        (x0 - 2.0 * pitch, y0 - height),
        (x1 + 2.0 * pitch, y1 + 2.0 * pitch),
    )
}

/// Resolution the visual zone is read at: its print is several times the
/// MRZ's cell height, so finer scans only cost OCR time.
const VISUAL_ZONE_DPI: f32 = 200.0;

/// The document's visual zone: its region above the MRZ, as an image of its
/// own, no finer than [`VISUAL_ZONE_DPI`].
fn visual_zone(image: &GrayImage, location: &MrzLocation) -> GrayImage {
    let document = document_region(image, location);
    let mrz_top = location
        .lines
        .first()
        .map_or(document.y + document.height, |l| {
            (l.origin.1 - l.char_height).max(0.0) as u32
        });
    let height = mrz_top.saturating_sub(document.y).max(1);
    let scale = (VISUAL_ZONE_DPI / location.effective_dpi()).min(1.0);
    let (to_width, to_height) = (
        (document.width as f32 * scale) as u32,
        (height as f32 * scale) as u32,
    );
    raster::shrink(
        image,
        (document.x, document.y, document.width, height),
        to_width,
        to_height,
    )
}
