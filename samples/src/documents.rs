//! The documents the generator draws: a passport data page (TD3), ID cards
//! (TD1, TD2), a Russian visa (MRV-A), and documents without an MRZ (a
//! migration card, a residence-permit page and every other kind the SPEC
//! lists: national passport, temporary travel document, refugee
//! certificate, temporary residence permit, work permit, work patent,
//! registration at the place of stay), each at its physical size.

use crate::date::{Date, TODAY};
use crate::mrz::{self, MrzInput};
use crate::people::{Names, Person};
use crate::render::{Fonts, MrzStyle, Page, MRZ_PITCH_MM};
use image::GrayImage;
use intake_models::{DocumentFields, DocumentKind, Field, MrzFormat};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Distance between MRZ lines, cap top to cap top.
const MRZ_LINE_PITCH_MM: f32 = 4.2;

/// A document with its ground truth, ready to render at any dpi.
#[derive(Debug, Clone)]
pub struct Document {
    pub kind: DocumentKind,
    pub mrz_format: Option<MrzFormat>,
    pub holder: Person,
    /// The fields exactly as intake should report them.
    pub fields: DocumentFields,
    pub mrz_lines: Vec<String>,
    /// The QR payload printed on the document, if any.
    pub qr: Option<String>,
    /// Whether the MRZ name field cut the holder's names short.
    pub names_truncated: bool,
    /// Printed in the visual zone.
    issue_date: Date,
    expiry: Date,
    number: String,
    /// The region a work patent or work permit is valid in.
    region: Option<&'static Region>,
    /// How the visual zone is laid out.
    pub layout: VizLayout,
    /// Visual-zone values printed instead of the true ones (a document
    /// whose visual zone was altered; its MRZ is left as issued).
    pub altered: Vec<(Field, String)>,
    /// The holder's passport number, printed by a visa or migration card.
    pub names_passport: Option<String>,
}

/// The languages a visual zone's labels are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Labels {
    /// `Фамилия / Surname`.
    RussianFirst,
    /// `Surname / Фамилия`.
    EnglishFirst,
    Russian,
    English,
}

/// How dates are printed in the visual zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `20.03.1995`
    Dotted,
    /// `1995-03-20`
    Iso,
    /// `20 MAR 1995`
    Spelled,
    /// `20 МАР 1995`
    SpelledRussian,
}

/// A visual zone's layout: so that the reader is tested on more than the
/// one layout its author had in mind, each document draws one of several
/// (from its number, so that the documents themselves stay as they were).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VizLayout {
    pub labels: Labels,
    /// The value on the line below its label, else after it: `Label: value`.
    pub value_below: bool,
    pub dates: DateStyle,
}

impl VizLayout {
    /// The layouts a document of this shape is drawn in; the first is the
    /// one every document had before layouts varied.
    fn choices(has_mrz: bool) -> [VizLayout; VizLayout::COUNT] {
        let layout = |labels, value_below, dates| VizLayout {
            labels,
            value_below,
            dates,
        };
        let first = match has_mrz {
            true => layout(Labels::EnglishFirst, true, DateStyle::Spelled),
            false => layout(Labels::RussianFirst, false, DateStyle::Dotted),
        };
        [
            first,
            layout(Labels::Russian, true, DateStyle::Dotted),
            layout(Labels::English, false, DateStyle::Iso),
            layout(Labels::RussianFirst, true, DateStyle::SpelledRussian),
        ]
    }

    /// How many layouts there are to draw from.
    pub const COUNT: usize = 4;

    fn drawn_for(number: &str, has_mrz: bool) -> VizLayout {
        let pick = number
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31) + b as usize);
        VizLayout::choices(has_mrz)[pick % VizLayout::COUNT]
    }

    fn label(&self, russian: &str, english: &str) -> String {
        match self.labels {
            Labels::RussianFirst => format!("{russian} / {english}"),
            Labels::EnglishFirst => format!("{english} / {russian}"),
            Labels::Russian => russian.to_string(),
            Labels::English => english.to_string(),
        }
    }

    /// A bilingual heading (`РУССКИЙ / ENGLISH`) in the layout's languages.
    fn heading(&self, bilingual: &str) -> String {
        let cyrillic = |p: &&&str| p.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
        let parts: Vec<&str> = bilingual.split(" / ").collect();
        let pick = match self.labels {
            Labels::Russian => parts.iter().find(cyrillic),
            Labels::English => parts.iter().find(|p| !cyrillic(p)),
            _ => None,
        };
        pick.map_or(bilingual, |p| p).to_string()
    }

    fn date(&self, date: Date) -> String {
        match self.dates {
            DateStyle::Dotted => date.dotted(),
            DateStyle::Iso => date.iso(),
            DateStyle::Spelled => date.spelled(),
            DateStyle::SpelledRussian => date.spelled_ru(),
        }
    }
}

/// One labelled line of a visual zone: the field it shows (if one intake
/// reads), its label in Russian and English, and its value.
struct Row {
    field: Option<Field>,
    russian: &'static str,
    english: &'static str,
    value: String,
}

fn row(field: Option<Field>, russian: &'static str, english: &'static str, value: String) -> Row {
    Row {
        field,
        russian,
        english,
        value,
    }
}

/// A region of Russia: its code (a patent's series) and its names.
#[derive(Debug)]
pub struct Region {
    pub code: u8,
    pub russian: &'static str,
    pub english: &'static str,
}

/// Regions where most patents are issued.
const REGIONS: [Region; 5] = [
    Region {
        code: 77,
        russian: "г. Москва",
        english: "Moscow",
    },
    Region {
        code: 50,
        russian: "Московская область",
        english: "Moscow Region",
    },
    Region {
        code: 78,
        russian: "г. Санкт-Петербург",
        english: "Saint Petersburg",
    },
    Region {
        code: 66,
        russian: "Свердловская область",
        english: "Sverdlovsk Region",
    },
    Region {
        code: 16,
        russian: "Республика Татарстан",
        english: "Republic of Tatarstan",
    },
];

/// How a document is printed, beyond its content: the MRZ's printer and
/// the security print behind it. The default is what every document had
/// before the print-variation classes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RenderStyle {
    pub mrz: MrzStyle,
    /// Security print through and beside the MRZ, drawn from this seed.
    pub security_print: Option<u64>,
}

/// A rendered document and where its MRZ is.
pub struct Rendered {
    pub image: GrayImage,
    /// The MRZ's ink box in pixels: left, cap top, right, baseline.
    pub mrz_box: Option<[f32; 4]>,
}

/// Which validity case to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    Valid,
    /// Expired before the submission date.
    Expired,
    /// A passport expiring within six months of the submission date.
    ExpiringSoon,
}

impl Document {
    /// A document of `format` (or, with `None`, a migration card or residence
    /// permit page) for a holder drawn from `rng`.
    pub fn generate(rng: &mut StdRng, format: Option<MrzFormat>, validity: Validity) -> Document {
        let holder = Person::generate(rng);
        Document::for_holder(rng, holder, format, validity, None)
    }

    /// A document of `format` for `holder` (several documents of one
    /// person); `expiry` fixes its expiry date instead of drawing one
    /// (and, without an MRZ, makes it a migration card).
    pub fn for_holder(
        rng: &mut StdRng,
        holder: Person,
        format: Option<MrzFormat>,
        validity: Validity,
        expiry: Option<Date>,
    ) -> Document {
        let kind = match format {
            Some(MrzFormat::TD3) => DocumentKind::Passport,
            Some(MrzFormat::MrvA) | Some(MrzFormat::MrvB) => DocumentKind::Visa,
            Some(_) => DocumentKind::IdCard,
            None if expiry.is_some() => DocumentKind::MigrationCard,
            None if rng.gen_ratio(1, 3) => DocumentKind::ResidencePermit,
            None => DocumentKind::MigrationCard,
        };
        Document::build(rng, holder, kind, format, validity, expiry)
    }

    /// A document of `kind`, drawn without an MRZ (a kind that always has
    /// one, `kind.has_mrz()`, gets the layout of a document without one).
    pub fn without_mrz(
        rng: &mut StdRng,
        holder: Person,
        kind: DocumentKind,
        validity: Validity,
    ) -> Document {
        Document::build(rng, holder, kind, None, validity, None)
    }

    fn build(
        rng: &mut StdRng,
        holder: Person,
        kind: DocumentKind,
        format: Option<MrzFormat>,
        validity: Validity,
        expiry: Option<Date>,
    ) -> Document {
        let expiry = match (expiry, validity) {
            (Some(fixed), _) => fixed,
            (None, Validity::Expired) => TODAY.add_days(-rng.gen_range(10..900)),
            (None, Validity::ExpiringSoon) => TODAY.add_days(rng.gen_range(5..170)),
            (None, Validity::Valid) if kind.is_stay_document() => {
                TODAY.add_days(rng.gen_range(20..700))
            }
            (None, Validity::Valid) => TODAY.add_days(rng.gen_range(200..3600)),
        };
        let issue_date = expiry.add_years(if kind.is_stay_document() { -1 } else { -10 });
        let code = holder.country.code;
        let region = matches!(kind, DocumentKind::WorkPatent | DocumentKind::WorkPermit)
            .then(|| &REGIONS[rng.gen_range(0..REGIONS.len())]);
        let number = match kind {
            DocumentKind::Passport | DocumentKind::NationalPassport => holder
                .country
                .passport_number
                .chars()
                .map(|c| match c {
                    'L' => letter(rng),
                    _ => char::from(b'0' + rng.gen_range(0..10u8)),
                })
                .collect(),
            DocumentKind::Visa => {
                format!("{:09}", rng.gen_range(100_000_000..1_000_000_000u64))
            }
            // One TD1 card in four has a number longer than nine characters
            // (ICAO 9303 Part 5 note j: it overflows into the optional data).
            DocumentKind::IdCard if format == Some(MrzFormat::TD1) && rng.gen_ratio(1, 4) => {
                format!(
                    "{}{:011}",
                    letter(rng),
                    rng.gen_range(0..100_000_000_000u64)
                )
            }
            DocumentKind::IdCard => format!("{}{:08}", letter(rng), rng.gen_range(0..100_000_000)),
            // The series is the issuing region's code.
            DocumentKind::WorkPatent | DocumentKind::WorkPermit => format!(
                "{:02}{:010}",
                region.map_or(77, |r| r.code),
                rng.gen_range(0..10_000_000_000u64)
            ),
            _ => format!(
                "{:04}{:07}",
                rng.gen_range(1000..10000),
                rng.gen_range(0..10_000_000)
            ),
        };

        let mut doc = Document {
            kind,
            mrz_format: format,
            holder,
            fields: DocumentFields::default(),
            mrz_lines: Vec::new(),
            qr: None,
            names_truncated: false,
            issue_date,
            expiry,
            layout: VizLayout::drawn_for(&number, format.is_some()),
            altered: Vec::new(),
            names_passport: None,
            number,
            region,
        };
        match format {
            Some(format) => {
                let input = doc.mrz_input(format, code, expiry, rng);
                // Inputs are built from MRZ-clean parts; a failure is a generator bug.
                let lines = mrz::build(&input).unwrap_or_else(|e| panic!("MRZ builder: {e}"));
                doc.fields = mrz::fields(&input, &lines);
                doc.names_truncated = doc.fields.surname.as_deref()
                    != Some(doc.holder.latin.surname.as_str())
                    || doc.fields.given_names.as_deref()
                        != Some(doc.holder.latin.given_names.as_str()).filter(|g| !g.is_empty());
                doc.mrz_lines = lines;
            }
            None => {
                doc.fields = DocumentFields {
                    surname: Some(doc.holder.latin.surname.clone()),
                    given_names: Some(doc.holder.latin.given_names.clone()),
                    document_number: Some(doc.number.clone()),
                    nationality: Some(code.to_string()),
                    birth_date: Some(doc.holder.birth_date.iso()),
                    sex: Some(doc.holder.sex.latin().to_string()),
                    expiry_date: Some(expiry.iso()),
                    ..DocumentFields::default()
                };
            }
        }
        // Residence permits and migration cards carry a QR code; so do some cards.
        if format.is_none() || (format == Some(MrzFormat::TD1) && rng.gen_ratio(1, 2)) {
            doc.qr = Some(doc.qr_payload());
        }
        doc
    }

    fn mrz_input(&self, format: MrzFormat, code: &str, expiry: Date, rng: &mut StdRng) -> MrzInput {
        let (document_code, issuing_state) = match format {
            MrzFormat::TD3 => ("P<", code),
            MrzFormat::TD1 => ("ID", code),
            MrzFormat::TD2 => ("I<", code),
            _ => ("V<", "RUS"),
        };
        let optional_data = match format {
            MrzFormat::TD3 if rng.gen_bool(0.5) => format!(
                "{:014}",
                rng.gen_range(0..u64::MAX / 2) % 100_000_000_000_000
            ),
            _ => String::new(),
        };
        MrzInput {
            format,
            document_code: document_code.into(),
            issuing_state: issuing_state.into(),
            surname: self.holder.latin.surname.clone(),
            given_names: self.holder.latin.given_names.clone(),
            document_number: self.number.clone(),
            nationality: code.into(),
            birth_date: self.holder.birth_date,
            sex: self.holder.sex.latin().into(),
            expiry_date: expiry,
            optional_data,
        }
    }

    /// The structured payload intake's QR stage reads.
    fn qr_payload(&self) -> String {
        let f = &self.fields;
        let get = |v: &Option<String>| v.clone().unwrap_or_default();
        format!(
            "INTAKE1|kind={}|number={}|surname={}|given_names={}|birth_date={}|expiry_date={}|nationality={}|sex={}",
            self.kind.as_str(),
            get(&f.document_number),
            self.holder.latin.surname,
            self.holder.latin.given_names,
            get(&f.birth_date),
            get(&f.expiry_date),
            get(&f.nationality),
            get(&f.sex),
        )
    }

    /// Width and height in millimetres.
    pub fn size_mm(&self) -> (f32, f32) {
        match self.mrz_format {
            Some(MrzFormat::TD3) => (125.0, 88.0),
            Some(MrzFormat::TD1) => (85.6, 54.0),
            Some(MrzFormat::TD2) => (105.0, 74.0),
            Some(_) => (120.0, 80.0),
            None => match self.kind {
                // Booklet pages, ID-3.
                DocumentKind::NationalPassport
                | DocumentKind::TemporaryTravelDocument
                | DocumentKind::RefugeeCertificate
                | DocumentKind::TemporaryResidencePermit => (125.0, 88.0),
                // A plastic card, ID-1.
                DocumentKind::WorkPermit => (85.6, 54.0),
                // The patent form and the notification's tear-off part, A5.
                DocumentKind::WorkPatent | DocumentKind::StayRegistration => (210.0, 148.0),
                // The migration card form, A6 (and so a residence-permit page).
                _ => (148.0, 105.0),
            },
        }
    }

    /// The document as a scanner at `dpi` would see it, upright and clean.
    pub fn render(&self, fonts: &Fonts, dpi: f32) -> GrayImage {
        self.render_with(fonts, dpi, &RenderStyle::default()).image
    }

    /// The document printed as `style` says, upright and clean, with where
    /// its MRZ is.
    pub fn render_with(&self, fonts: &Fonts, dpi: f32, style: &RenderStyle) -> Rendered {
        let (w, h) = self.size_mm();
        let mut page = Page::new(w, h, dpi);
        let mrz_box = match self.mrz_format {
            Some(format) => Some(self.draw_mrz_document(&mut page, fonts, format, style)),
            None => {
                self.draw_stay_card(&mut page, fonts);
                None
            }
        };
        Rendered {
            image: page.image,
            mrz_box,
        }
    }

    /// Draws the page; returns the MRZ's ink box in pixels (left, cap top,
    /// right, baseline).
    fn draw_mrz_document(
        &self,
        page: &mut Page,
        fonts: &Fonts,
        format: MrzFormat,
        style: &RenderStyle,
    ) -> [f32; 4] {
        let (w, h) = self.size_mm();
        let width = self.mrz_lines.first().map_or(44, String::len) as f32;
        let rows = self.mrz_lines.len() as f32;
        let mrz_top = h - 5.0 - (rows - 1.0) * MRZ_LINE_PITCH_MM - 2.4;
        let small = w < 100.0;
        let (label, value) = if small { (1.3, 1.9) } else { (1.5, 2.3) };
        let row_pitch = if small { 4.6 } else { 6.0 };
        page.guilloche(0.0, 0.0, w, mrz_top - 2.0);

        let title = match format {
            MrzFormat::TD3 => "PASSPORT / ПАСПОРТ",
            MrzFormat::MrvA | MrzFormat::MrvB => "ВИЗА / VISA",
            _ => "IDENTITY CARD",
        };
        let state = match format {
            MrzFormat::MrvA | MrzFormat::MrvB => "РОССИЙСКАЯ ФЕДЕРАЦИЯ / RUSSIAN FEDERATION",
            _ => self.holder.country.state_name,
        };
        page.text(&fonts.bold, 4.0, 2.5, value * 0.9, state);
        let title = self.layout.heading(title);
        // On the state's line: a line of its own would run into the first label's.
        page.text(&fonts.bold, w * 0.55, 2.5, value * 0.9, &title);

        let photo_w = if small { 20.0 } else { 30.0 };
        page.photo(4.0, 8.0, photo_w, (mrz_top - 11.0).min(photo_w * 1.3));
        let x = photo_w + 8.0;
        let f = &self.fields;
        let layout = &self.layout;
        let names = &self.holder.latin;
        let mut rows = vec![
            row(
                Some(Field::Surname),
                "Фамилия",
                "Surname",
                names.surname.clone(),
            ),
            row(
                Some(Field::GivenNames),
                "Имя",
                "Given names",
                names.given_names.clone(),
            ),
            row(
                None,
                "Гражданство",
                "Nationality",
                self.holder.country.short_name.to_string(),
            ),
            self.birth_row(),
            self.sex_row(),
            row(
                Some(Field::ExpiryDate),
                "Дата окончания срока",
                "Date of expiry",
                match f.expiry_date {
                    Some(_) => layout.date(self.expiry()),
                    None => "-".into(),
                },
            ),
            row(
                Some(Field::DocumentNumber),
                "Номер",
                "Document No.",
                self.number.clone(),
            ),
        ];
        if !small {
            rows.insert(
                4,
                row(
                    None,
                    "Место рождения",
                    "Place of birth",
                    self.holder.birth_place.to_string(),
                ),
            );
            rows.push(row(
                None,
                "Дата выдачи",
                "Date of issue",
                layout.date(self.issue_date),
            ));
        }
        rows.extend(self.passport_row());
        if let Some(cyr) = &self.holder.cyrillic {
            if !small {
                rows[0].value = format!("{} / {}", cyr.surname, names.surname);
                rows[1].value = format!("{} / {}", cyr.given_names, names.given_names);
            }
        }
        let mut y = 8.0;
        for row in self.altered_rows(rows) {
            let label_text = layout.label(row.russian, row.english);
            if layout.value_below {
                if y + label + value + 1.0 > mrz_top - 1.0 {
                    break;
                }
                page.text(&fonts.sans, x, y, label, &label_text);
                page.text(&fonts.bold, x, y + label + 0.7, value, &row.value);
            } else {
                if y + value + 1.0 > mrz_top - 1.0 {
                    break;
                }
                let line = format!("{label_text}: {}", row.value);
                page.text(&fonts.sans, x, y, value * 0.8, &line);
            }
            y += if layout.value_below {
                row_pitch
            } else {
                row_pitch * 0.7
            };
        }
        if let Some(qr) = &self.qr {
            let size = (mrz_top - 9.0).min(22.0);
            page.qr(w - size - 2.0, 7.0, size, qr);
        }
        let x0 = (w - width * MRZ_PITCH_MM) / 2.0;
        if let Some(seed) = style.security_print {
            let lines = self.mrz_lines.len() as f32;
            let bottom = mrz_top + (lines - 1.0) * MRZ_LINE_PITCH_MM + 2.4;
            page.security_print(
                [x0, mrz_top, x0 + width * MRZ_PITCH_MM, bottom],
                &mut StdRng::seed_from_u64(seed),
            );
        }
        page.mrz_styled(
            fonts,
            x0,
            mrz_top,
            MRZ_LINE_PITCH_MM,
            &self.mrz_lines,
            &style.mrz,
        )
    }

    /// A document without an MRZ: its title, the issuing state, labelled
    /// lines in Russian and English (names in Cyrillic and, where the real
    /// document prints them, Latin) and a QR code. Small cards are drawn
    /// smaller.
    fn draw_stay_card(&self, page: &mut Page, fonts: &Fonts) {
        let (w, h) = self.size_mm();
        let scale: f32 = if h < 60.0 { 0.7 } else { 1.0 };
        let (title, expiry_label) = match self.kind {
            DocumentKind::ResidencePermit => (
                "ВИД НА ЖИТЕЛЬСТВО / RESIDENCE PERMIT",
                ("Действительна до", "Valid until"),
            ),
            DocumentKind::NationalPassport => {
                ("ПАСПОРТ / PASSPORT", ("Действителен до", "Valid until"))
            }
            DocumentKind::TemporaryTravelDocument => (
                "ВРЕМЕННЫЙ ПРОЕЗДНОЙ ДОКУМЕНТ / TEMPORARY TRAVEL DOCUMENT",
                ("Действителен до", "Valid until"),
            ),
            DocumentKind::RefugeeCertificate => (
                "УДОСТОВЕРЕНИЕ БЕЖЕНЦА / REFUGEE CERTIFICATE",
                ("Действительно до", "Valid until"),
            ),
            DocumentKind::TemporaryResidencePermit => (
                "РАЗРЕШЕНИЕ НА ВРЕМЕННОЕ ПРОЖИВАНИЕ / TEMPORARY RESIDENCE PERMIT",
                ("Действительно до", "Valid until"),
            ),
            DocumentKind::WorkPermit => (
                "РАЗРЕШЕНИЕ НА РАБОТУ / WORK PERMIT",
                ("Действительно до", "Valid until"),
            ),
            DocumentKind::WorkPatent => ("ПАТЕНТ / PATENT", ("Действителен до", "Valid until")),
            DocumentKind::StayRegistration => (
                "УВЕДОМЛЕНИЕ О ПРИБЫТИИ В МЕСТО ПРЕБЫВАНИЯ / NOTIFICATION OF ARRIVAL",
                ("Срок пребывания до", "Stay until"),
            ),
            _ => (
                "МИГРАЦИОННАЯ КАРТА / MIGRATION CARD",
                ("Действительна до", "Valid until"),
            ),
        };
        let title = self.layout.heading(title);
        // Long titles are set smaller to fit the width (bold capitals run
        // about their cap height wide).
        let title_cap =
            (3.2 * scale).min((w - 12.0 * scale) / (0.96 * title.chars().count() as f32));
        page.text(&fonts.bold, 6.0 * scale, 5.0 * scale, title_cap, &title);
        let state = match self.kind {
            DocumentKind::NationalPassport | DocumentKind::TemporaryTravelDocument => {
                self.holder.country.state_name
            }
            _ => "РОССИЙСКАЯ ФЕДЕРАЦИЯ / RUSSIAN FEDERATION",
        };
        page.text(&fonts.sans, 6.0 * scale, 11.0 * scale, 2.0 * scale, state);
        // Russian forms filled in by the migration service print Cyrillic only.
        let latin_too = !matches!(
            self.kind,
            DocumentKind::StayRegistration
                | DocumentKind::TemporaryResidencePermit
                | DocumentKind::RefugeeCertificate
        );
        let names = |pick: fn(&Names) -> &String| match &self.holder.cyrillic {
            Some(c) if latin_too => format!("{} / {}", pick(c), pick(&self.holder.latin)),
            Some(c) => pick(c).clone(),
            None => pick(&self.holder.latin).clone(),
        };
        let split = if self.region.is_some() { 2 } else { 4 };
        let number = format!("{} {}", &self.number[..split], &self.number[split..]);
        let layout = &self.layout;
        let mut rows = vec![
            row(Some(Field::DocumentNumber), "Номер", "Number", number),
            row(
                Some(Field::Surname),
                "Фамилия",
                "Surname",
                names(|n| &n.surname),
            ),
            row(
                Some(Field::GivenNames),
                "Имя",
                "Given names",
                names(|n| &n.given_names),
            ),
            self.birth_row(),
            self.sex_row(),
            row(
                Some(Field::Nationality),
                "Гражданство",
                "Nationality",
                self.holder.country.code.to_string(),
            ),
            row(
                Some(Field::ExpiryDate),
                expiry_label.0,
                expiry_label.1,
                layout.date(self.expiry()),
            ),
        ];
        // The kinds the generator drew first show no more; the others
        // their issue date, and the patent its region.
        if !matches!(
            self.kind,
            DocumentKind::MigrationCard | DocumentKind::ResidencePermit
        ) {
            rows.insert(
                6,
                row(
                    None,
                    "Дата выдачи",
                    "Date of issue",
                    layout.date(self.issue_date),
                ),
            );
        }
        if let Some(region) = self.region {
            rows.push(row(
                None,
                "Регион",
                "Region",
                format!("{} / {}", region.russian, region.english),
            ));
        }
        rows.extend(self.passport_row());
        let rows = self.altered_rows(rows);
        // A value below its label takes more height: where the rows would
        // not fit, they are set on one line each.
        let top = 19.0 * scale;
        let below = layout.value_below && top + rows.len() as f32 * 9.0 * scale < h - 3.0 * scale;
        let mut y = top;
        for row in rows {
            let label = layout.label(row.russian, row.english);
            if below {
                page.text(&fonts.sans, 6.0 * scale, y, 1.8 * scale, &label);
                page.text(
                    &fonts.sans,
                    6.0 * scale,
                    y + 2.6 * scale,
                    2.4 * scale,
                    &row.value,
                );
                y += 9.0 * scale;
            } else {
                let line = format!("{label}: {}", row.value);
                page.text(&fonts.sans, 6.0 * scale, y, 2.4 * scale, &line);
                y += 6.5 * scale;
            }
        }
        if let Some(qr) = &self.qr {
            let size = (h * 0.4).min(32.0);
            page.qr(w - size - 4.0 * scale, h - size - 8.0 * scale, size, qr);
        }
    }

    fn expiry(&self) -> Date {
        self.expiry
    }

    /// The document drawn in the `n`-th layout (modulo their number).
    pub fn with_layout(mut self, n: usize) -> Document {
        self.layout = VizLayout::choices(self.mrz_format.is_some())[n % VizLayout::COUNT];
        self
    }

    /// The document with its visual zone altered where its MRZ is not: the
    /// surname and birth date printed are another person's.
    pub fn with_altered_visual_zone(mut self) -> Document {
        let surname = match self.holder.latin.surname.as_str() {
            "KARIMOVA" => "SAIDOVA",
            _ => "KARIMOVA",
        }
        .to_string();
        let birth = self.holder.birth_date.add_years(-3);
        let printed_birth = self.layout.date(birth);
        self.altered = vec![(Field::Surname, surname), (Field::BirthDate, printed_birth)];
        self
    }

    /// The passport the document names, if it names one.
    fn passport_row(&self) -> Option<Row> {
        let number = self.names_passport.clone()?;
        Some(row(None, "Номер паспорта", "Passport No.", number))
    }

    /// The holder's birth date as the layout prints it.
    fn birth_row(&self) -> Row {
        row(
            Some(Field::BirthDate),
            "Дата рождения",
            "Date of birth",
            self.layout.date(self.holder.birth_date),
        )
    }

    /// The holder's sex in both scripts: `Ж / F`.
    fn sex_row(&self) -> Row {
        let sex = &self.holder.sex;
        row(
            Some(Field::Sex),
            "Пол",
            "Sex",
            format!("{} / {}", sex.cyrillic(), sex.latin()),
        )
    }

    /// The rows with the altered values in place of the true ones.
    fn altered_rows(&self, mut rows: Vec<Row>) -> Vec<Row> {
        for (field, value) in &self.altered {
            for row in rows.iter_mut().filter(|r| r.field == Some(*field)) {
                row.value = value.clone();
            }
        }
        rows
    }

    /// The verdict and codes a perfect reader gives this document on
    /// [`TODAY`] without a profile.
    pub fn expected(&self) -> (&'static str, Vec<&'static str>) {
        if !self.altered.is_empty() {
            return ("needs_review", vec!["viz_mismatch"]);
        }
        let expiry = self.expiry();
        let expired = expiry < TODAY;
        let code = match self.kind {
            k if k.is_stay_document() => expired.then_some("stay_document_expired"),
            _ if expired => Some("document_expired"),
            DocumentKind::Passport if expiry <= TODAY.add_months(6) => {
                Some("passport_validity_under_6_months")
            }
            _ => None,
        };
        match code {
            Some(code) => ("rejected", vec![code]),
            None => ("accepted", Vec::new()),
        }
    }
}

fn letter(rng: &mut StdRng) -> char {
    char::from(b'A' + rng.gen_range(0..26u8))
}
