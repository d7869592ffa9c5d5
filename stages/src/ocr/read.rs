//! The MRZ read policy: the glyph classifier first, upright then turned;
//! Tesseract only where it is not sure; per-cell votes between the two; the
//! reading whose check digits agree kept; a grid a cell off tried last.

use super::glyphs::Glyphs;
use super::{Engines, MrzOcr, MrzText, OcrError};
use crate::dates::Date;
use crate::locate::{self, MrzLocation};
use crate::mrz::{self, ParsedMrz};
use crate::timings::Timings;
use image::GrayImage;
use intake_models::config::Ocr;

/// The MRZ as read, with where it was found.
#[derive(Debug, Clone)]
pub struct MrzRead {
    pub location: MrzLocation,
    /// One string per line, one character per cell, as read.
    pub lines: Vec<String>,
    /// Cells OCR read with low confidence.
    pub unsure: Vec<(usize, usize)>,
    /// The glyph classifier's close calls: (line, column, its runner-up).
    pub alternatives: Vec<(usize, usize, char)>,
    /// The lines parsed, if they parse at all.
    pub parsed: Option<ParsedMrz>,
}

/// Scores of readings whose check digits all agree ([`MrzRead::score`]).
const VALID: usize = 100;

impl MrzRead {
    /// How much of the reading checks out, to choose among readings: check
    /// digits first, then the fewest repairs (a reading made to agree by
    /// look-alike swaps loses to one that agreed as read).
    fn score(&self) -> usize {
        match &self.parsed {
            None => 0,
            Some(p) if p.reading.check_digits_valid => {
                200 - (p.reading.corrections as usize).min(99)
            }
            Some(p) => 50usize.saturating_sub(p.failed_checks.len() * 10) + 1,
        }
    }

    /// Per cell, the classifier's character where it was sure and
    /// Tesseract's where it was not (`self` is the classifier's reading,
    /// `tesseract` Tesseract's of the same grid). A cell in doubt for both
    /// stays in doubt, and the classifier's runner-ups stay possible. Where
    /// the two read a cell differently and no check digit covers it (a
    /// name's letter, the document type), neither settles it: it stays in
    /// doubt for a person, however sure Tesseract was.
    fn vote(&self, tesseract: &MrzRead, today: Date) -> Option<MrzRead> {
        let same_grid = self.location.rotation == tesseract.location.rotation
            && self.lines.len() == tesseract.lines.len()
            && self
                .lines
                .iter()
                .zip(&tesseract.lines)
                .all(|(a, b)| a.len() == b.len());
        if !same_grid || self.unsure.is_empty() {
            return None;
        }
        let mut lines: Vec<Vec<char>> = self.lines.iter().map(|l| l.chars().collect()).collect();
        let theirs: Vec<Vec<char>> = tesseract
            .lines
            .iter()
            .map(|l| l.chars().collect())
            .collect();
        let mut disagreed = Vec::new();
        for &(line, column) in &self.unsure {
            if let (Some(cell), Some(&t)) = (
                lines.get_mut(line).and_then(|l| l.get_mut(column)),
                theirs.get(line).and_then(|l| l.get(column)),
            ) {
                if *cell != t {
                    disagreed.push((line, column));
                }
                *cell = t;
            }
        }
        // Which cells no check digit covers (the layout does not change
        // with the characters put back below).
        let as_voted: Vec<String> = lines.iter().map(String::from_iter).collect();
        let layout = mrz::parse(&as_voted, today).ok().map(|p| p.reading.format);
        let unchecked = |&(line, column): &(usize, usize)| {
            layout.is_some_and(|f| mrz::unchecked_field(&as_voted, f, line, column).is_some())
        };
        // Where they disagree on a cell no check digit covers, the cell goes
        // to a person either way; it shows the classifier's character unless
        // Tesseract's is the classifier's own runner-up (a close call between
        // two, which Tesseract may break): a hairline-crossed `<` stays `<`.
        for &(line, column) in &disagreed {
            let t = theirs[line][column];
            let runner_up = self
                .alternatives
                .iter()
                .any(|&(l, c, r)| (l, c, r) == (line, column, t));
            if !runner_up && unchecked(&(line, column)) {
                if let Some(mine) = self.lines.get(line).and_then(|l| l.chars().nth(column)) {
                    lines[line][column] = mine;
                }
            }
        }
        let lines: Vec<String> = lines.into_iter().map(String::from_iter).collect();
        let parsed = mrz::parse(&lines, today).ok();
        // Whichever of the two was not taken remains possible, unless
        // Tesseract was sure of a cell no check digit covers (a name's
        // letter): there its word is the second opinion. Where a check
        // digit covers the cell, it settles what it can see.
        let mut alternatives: Vec<(usize, usize, char)> = Vec::new();
        for &(line, column, runner_up) in &self.alternatives {
            let settled = !tesseract.unsure.contains(&(line, column)) && unchecked(&(line, column));
            if settled {
                continue;
            }
            let mine = self.lines.get(line).and_then(|l| l.chars().nth(column));
            let chosen = lines.get(line).and_then(|l| l.chars().nth(column));
            for other in [Some(runner_up), mine] {
                if let Some(other) = other.filter(|o| Some(*o) != chosen) {
                    alternatives.push((line, column, other));
                }
            }
        }
        let unsure = self
            .unsure
            .iter()
            .copied()
            .filter(|cell| {
                tesseract.unsure.contains(cell) || (disagreed.contains(cell) && unchecked(cell))
            })
            .collect();
        Some(MrzRead {
            location: self.location.clone(),
            parsed,
            lines,
            unsure,
            alternatives,
        })
    }
}

/// Reads the grid located in `image` (already turned by its rotation)
/// with the glyph classifier, upright and then upside down; where it is
/// not sure, with Tesseract the same way. Returns the image the way the
/// MRZ reads. Tesseract is started only if needed.
pub fn read_mrz(
    glyphs: &Glyphs,
    engines: &mut Engines,
    cfg: &Ocr,
    image: GrayImage,
    location: MrzLocation,
    today: Date,
    timings: &mut Timings,
) -> Result<(GrayImage, MrzRead), OcrError> {
    let use_glyphs = cfg.mrz_glyphs;
    let mut glyph_reads = Vec::with_capacity(2);
    if use_glyphs {
        let (read, sure) = glyph_read(glyphs, &image, location.clone(), today, timings);
        if sure {
            return Ok((image, read));
        }
        glyph_reads.push(read);
    }
    let flipped_location = location.turned_180(image.width(), image.height());
    let flipped_location_rotation = flipped_location.rotation;
    let turned = locate::turn(&image, 180);
    if use_glyphs {
        let (read, sure) = glyph_read(glyphs, &turned, flipped_location.clone(), today, timings);
        if sure {
            return Ok((turned, read));
        }
        glyph_reads.push(read);
    }
    // Not the font's print, or a close call no check digit settles:
    // Tesseract reads it, and the best of the four readings is kept (on
    // a tie Tesseract's, which has the last word on doubtful cells).
    // Tesseract is started only here: most documents never need it.
    let reader = engines.mrz(cfg)?;
    let upright = tesseract_read(reader, &image, location.clone(), today, timings);
    let flipped = if upright.score() >= VALID {
        None
    } else {
        Some(tesseract_read(
            reader,
            &turned,
            flipped_location.clone(),
            today,
            timings,
        ))
    };
    // Per-cell votes of the classifier and Tesseract on the same grid.
    let votes: Vec<MrzRead> = glyph_reads
        .iter()
        .flat_map(|g| [Some(&upright), flipped.as_ref()].map(|t| t.and_then(|t| g.vote(t, today))))
        .flatten()
        .collect();
    // The best by score; on a tie the later here: Tesseract's readings
    // (whose repairs count against them), the classifier's, the votes.
    let mut best = upright;
    for read in flipped.into_iter().chain(glyph_reads).chain(votes) {
        if read.score() >= best.score() {
            best = read;
        }
    }
    // Nothing valid: perhaps the grid is a cell off at both ends. The
    // classifier reads it moved by one cell either way (check digits
    // judge it like any reading).
    if use_glyphs && best.score() < VALID {
        for (page, grid) in [(&image, &location), (&turned, &flipped_location)] {
            for by in [-1, 1] {
                let (read, _) = glyph_read(glyphs, page, grid.shifted(by), today, timings);
                if read.score() > best.score() {
                    best = read;
                }
            }
        }
    }
    Ok(if best.location.rotation == flipped_location_rotation {
        (turned, best)
    } else {
        (image, best)
    })
}

/// The glyph classifier's reading, and whether it stands on its own
/// ([`stands_alone`](super::glyphs::GlyphReading::stands_alone)).
fn glyph_read(
    glyphs: &Glyphs,
    image: &GrayImage,
    location: MrzLocation,
    today: Date,
    timings: &mut Timings,
) -> (MrzRead, bool) {
    let glyphs = timings.time("ocr", || glyphs.read_grid(image, &location));
    let parsed = timings.time("parse", || mrz::parse(&glyphs.text.lines, today).ok());
    let sure = parsed.as_ref().is_some_and(|p| {
        glyphs.stands_alone(p)
            && (glyphs.beyond_tesseract
                || mrz::unsettled_fields(p, &glyphs.close, today).is_empty())
    });
    let read = MrzRead {
        location,
        lines: glyphs.text.lines,
        unsure: glyphs.text.unsure,
        alternatives: glyphs.close,
        parsed,
    };
    (read, sure)
}

/// Tesseract's reading; a field whose check digit fails is read again cell
/// by cell, and the second reading is kept only if the check digits then agree.
fn tesseract_read(
    reader: &mut MrzOcr,
    image: &GrayImage,
    location: MrzLocation,
    today: Date,
    timings: &mut Timings,
) -> MrzRead {
    let mut text = timings.time("ocr", || reader.read(image, &location));
    let mut parsed = timings.time("parse", || mrz::parse(&text.lines, today).ok());
    let failed = parsed
        .as_ref()
        .map_or(Vec::new(), |p| p.failed_checks.clone());
    for field in failed {
        let Some(p) = parsed.as_ref() else { break };
        let Some((cells, digits)) = mrz::checked_cells(&p.reading.lines, p.reading.format, field)
        else {
            continue;
        };
        let mut second = MrzText {
            lines: p.reading.lines.clone(),
            reread_cells: 0,
            unsure: text.unsure.clone(),
        };
        timings.time("ocr", || {
            reader.reread(image, &location, &mut second, &cells, digits)
        });
        let reparsed = timings.time("parse", || mrz::parse(&second.lines, today).ok());
        if let Some(better) = reparsed.filter(|r| r.failed_checks.len() < p.failed_checks.len()) {
            text = second;
            parsed = Some(better);
        }
    }
    MrzRead {
        location,
        lines: text.lines,
        unsure: text.unsure,
        alternatives: Vec::new(),
        parsed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::locate::GridLine;

    const LINE1: &str = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<";
    const LINE2: &str = "L898902C36UTO7408122F1204159ZE184226B<<<<<10";

    fn today() -> Date {
        Date::new(2026, 6, 1).expect("a date")
    }

    fn reading(
        lines: [&str; 2],
        unsure: &[(usize, usize)],
        alternatives: &[(usize, usize, char)],
    ) -> MrzRead {
        let line = GridLine {
            origin: (10.0, 10.0),
            bend: 0.0,
            direction: (1.0, 0.0),
            pitch: 30.0,
            char_height: 27.0,
            cells: 44,
        };
        let lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        MrzRead {
            location: MrzLocation {
                rotation: 0,
                lines: vec![line.clone(), line],
                shape: (2, 44),
            },
            parsed: mrz::parse(&lines, today()).ok(),
            lines,
            unsure: unsure.to_vec(),
            alternatives: alternatives.to_vec(),
        }
    }

    #[test]
    fn a_reading_made_valid_by_repairs_loses_to_one_valid_as_read() {
        let as_read = reading([LINE1, LINE2], &[], &[]);
        // A look-alike the document number's check digit repairs.
        let repaired = reading(
            [LINE1, &LINE2.replacen("L898902C3", "L8989O2C3", 1)],
            &[],
            &[],
        );
        let p = repaired.parsed.as_ref().expect("repaired");
        assert!(p.reading.check_digits_valid && p.reading.corrections >= 1);
        assert_eq!(p.reading.lines[1], LINE2);
        assert!(as_read.score() > repaired.score());
    }

    #[test]
    fn the_classifier_keeps_its_sure_cells_and_tesseract_decides_its_doubtful_ones() {
        // The classifier is unsure of two cells: one Tesseract reads right
        // (the 8 of the number), one it misreads where the classifier was right.
        let glyphs = reading(
            [LINE1, &LINE2.replacen("L898", "L8B8", 1)],
            &[(1, 2)],
            &[(1, 2, '9')],
        );
        let tesseract = reading([LINE1, &LINE2.replacen("C36", "G36", 1)], &[], &[]);
        let voted = glyphs.vote(&tesseract, today()).expect("the same grid");
        assert_eq!(voted.lines, [LINE1, LINE2]);
        assert!(voted.parsed.is_some_and(|p| p.reading.check_digits_valid));
        // Nothing in doubt: no vote.
        assert!(tesseract.vote(&glyphs, today()).is_none());
    }

    #[test]
    fn where_no_check_digit_looks_a_disagreement_stays_in_doubt() {
        // The classifier doubts the `<` of the document type (a hairline
        // crosses it); Tesseract is sure it is an X. No check digit covers it.
        let glyphs = reading([LINE1, LINE2], &[(0, 1)], &[(0, 1, 'K')]);
        let tesseract = reading([&LINE1.replacen("P<", "PX", 1), LINE2], &[], &[]);
        let voted = glyphs.vote(&tesseract, today()).expect("the same grid");
        assert!(voted.unsure.contains(&(0, 1)), "{:?}", voted.unsure);
        // X is not the classifier's runner-up (K is): its `<` is shown.
        assert_eq!(voted.lines, [LINE1, LINE2]);
        // Where Tesseract picks the classifier's own runner-up, it is shown.
        let runner_up = reading([&LINE1.replacen("P<", "PK", 1), LINE2], &[], &[]);
        let voted = glyphs.vote(&runner_up, today()).expect("the same grid");
        assert!(voted.unsure.contains(&(0, 1)), "{:?}", voted.unsure);
        assert!(voted.lines[0].starts_with("PK"), "{:?}", voted.lines);
        // Where they agree, Tesseract's word settles it.
        let agreeing = reading([LINE1, LINE2], &[], &[]);
        let voted = glyphs.vote(&agreeing, today()).expect("the same grid");
        assert!(voted.unsure.is_empty(), "{:?}", voted.unsure);
    }
}
