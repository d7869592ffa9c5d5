//! Cyrillic ↔ Latin spellings of names.
//!
//! Russian passports use the ICAO 9303 transliteration since 2013 (ANDREI,
//! IULIIA, TSOI); older documents and applicants' habits use GOST R
//! 52535.1-2006 and the MVD order 310 of 1997 (ANDREY, YULIYA, TSOY). A name
//! is compared as the set of its spellings, and Latin spellings through a
//! "skeleton" that maps the schemes' differences to one form.

/// Upper-case Latin words separated by one space: fillers `<`, hyphens,
/// apostrophes, dots and runs of whitespace become one space.
pub fn normalize_latin(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| match c {
            '<' | '-' | '\'' | '’' | '`' | '.' | ',' => ' ',
            c => c,
        })
        .flat_map(char::to_uppercase)
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub fn is_cyrillic(name: &str) -> bool {
    name.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c))
}

/// A Cyrillic letter's spellings: ICAO 9303 first, then the older schemes.
fn letter(c: char) -> Option<&'static [&'static str]> {
    Some(match c {
        'А' => &["A"],
        'Б' => &["B"],
        'В' => &["V"],
        'Г' => &["G"],
        'Д' => &["D"],
        'Е' => &["E"],
        'Ё' => &["E", "YO"],
        'Ж' => &["ZH"],
        'З' => &["Z"],
        'И' => &["I"],
        'Й' => &["I", "Y"],
        'К' => &["K"],
        'Л' => &["L"],
        'М' => &["M"],
        'Н' => &["N"],
        'О' => &["O"],
        'П' => &["P"],
        'Р' => &["R"],
        'С' => &["S"],
        'Т' => &["T"],
        'У' => &["U"],
        'Ф' => &["F"],
        'Х' => &["KH"],
        'Ц' => &["TS", "TC"],
        'Ч' => &["CH"],
        'Ш' => &["SH"],
        'Щ' => &["SHCH"],
        'Ъ' => &["IE", ""],
        'Ы' => &["Y"],
        'Ь' => &[""],
        'Э' => &["E"],
        'Ю' => &["IU", "YU"],
        'Я' => &["IA", "YA"],
        // Ukrainian, Belarusian and Central Asian letters (ICAO 9303 Part 3 table).
        'І' => &["I"],
        'Ї' => &["I", "YI"],
        'Є' => &["IE", "YE"],
        'Ґ' => &["G"],
        'Ў' => &["U"],
        'Қ' => &["Q", "K"],
        'Ғ' => &["G"],
        'Ң' => &["N"],
        'Ө' => &["O"],
        'Ү' | 'Ұ' => &["U"],
        'Һ' => &["H"],
        'Ә' => &["A"],
        _ => return None,
    })
}

/// Most spellings kept for one name: enough for every scheme combination of
/// ordinary names, bounded for pathological input.
const MAX_CANDIDATES: usize = 64;

/// Every Latin spelling a name may have in an MRZ, normalised; for Latin
/// input, just its normalised form. The first is the ICAO 9303 spelling.
pub fn latin_candidates(name: &str) -> Vec<String> {
    let upper: String = name.chars().flat_map(char::to_uppercase).collect();
    let mut out = vec![String::new()];
    for c in upper.chars() {
        let options: &[&str] = match letter(c) {
            Some(options) => options,
            None => {
                let s = c.to_string();
                out.iter_mut().for_each(|o| o.push_str(&s));
                continue;
            }
        };
        let mut next = Vec::with_capacity(out.len() * options.len());
        for prefix in &out {
            for option in options {
                if next.len() < MAX_CANDIDATES {
                    next.push(format!("{prefix}{option}"));
                }
            }
        }
        out = next;
    }
    let mut out: Vec<String> = out.iter().map(|s| normalize_latin(s)).collect();
    out.dedup();
    out
}

/// One form for the Latin spellings the schemes disagree on
/// (IU/YU, IA/YA, IE/YE, TS/TC, final or pre-vowel Y vs I, YO/E, KS/X).
/// Two names with the same skeleton are transliteration-equivalent.
pub fn skeleton(latin: &str) -> String {
    let mut s = normalize_latin(latin);
    for (from, to) in [
        ("YU", "IU"),
        ("YA", "IA"),
        ("YE", "IE"),
        ("YO", "E"),
        ("YI", "I"),
        ("TC", "TS"),
        ("X", "KS"),
        ("'", ""),
    ] {
        s = s.replace(from, to);
    }
    // Й spelled Y (ANDREY, TSOY) where ICAO writes I (ANDREI, TSOI); Ы stays Y
    // inside words, so only a Y after a vowel is a Й.
    let chars: Vec<char> = s.chars().collect();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let after_vowel = i > 0 && "AEIOU".contains(chars[i - 1]);
            if c == 'Y' && after_vowel {
                'I'
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icao_spelling_comes_first() {
        for (cyr, icao) in [
            ("ЮЛИЯ", "IULIIA"),
            ("АНДРЕЙ", "ANDREI"),
            ("ЦОЙ", "TSOI"),
            ("ЩЕРБАКОВ", "SHCHERBAKOV"),
            ("НАТАЛЬЯ", "NATALIA"),
            ("ЁЛКИН", "ELKIN"),
            ("ХАЙДАРОВ", "KHAIDAROV"),
            ("Турсунов Алишер", "TURSUNOV ALISHER"),
            ("ОБЪЕДКОВ", "OBIEEDKOV"),
        ] {
            assert_eq!(latin_candidates(cyr)[0], icao, "{cyr}");
        }
    }

    #[test]
    fn older_schemes_are_among_the_candidates() {
        assert!(latin_candidates("ЮЛИЯ").contains(&"YULIYA".to_string()));
        assert!(latin_candidates("ЦОЙ").contains(&"TSOY".to_string()));
        assert!(latin_candidates("АНДРЕЙ").contains(&"ANDREY".to_string()));
    }

    #[test]
    fn skeletons_join_schemes_and_keep_names_apart() {
        assert_eq!(skeleton("YULIYA"), skeleton("IULIIA"));
        assert_eq!(skeleton("Andrey"), skeleton("ANDREI"));
        assert_eq!(skeleton("TSOY"), skeleton("TSOI"));
        assert_eq!(skeleton("ALEXANDR"), skeleton("ALEKSANDR"));
        assert_ne!(skeleton("IVANOV"), skeleton("IVANOVA"));
        assert_ne!(skeleton("PETROV"), skeleton("PETRAV"));
        assert_ne!(skeleton("RYBAKOV"), skeleton("RIBAKOV"));
    }

    #[test]
    fn normalisation() {
        assert_eq!(normalize_latin(" anna<maria--o'neil "), "ANNA MARIA O NEIL");
        assert!(is_cyrillic("Алишер") && !is_cyrillic("ALISHER"));
        assert!(latin_candidates(&"Я".repeat(40)).len() <= MAX_CANDIDATES);
    }
}
