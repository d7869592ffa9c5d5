//! Russian Cyrillic to Latin, in the schemes Russian passport offices have
//! used: ICAO Doc 9303 (2013, today's MRZ spelling) and the two older ones an
//! applicant may still type in a form (anchors.md §3.2–3.3).

/// A transliteration scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// ICAO Doc 9303 (2013): Й→I, Ц→TS, Ъ→IE, Ь omitted, Ю→IU, Я→IA.
    Icao2013,
    /// MVD order No. 310 (1997): Й→Y, Ю→YU, Я→YA, Ъ and Ь omitted.
    Mvd310,
    /// GOST R 52535.1-2006: as ICAO but Ц→TC and Ъ omitted.
    Gost2006,
}

/// Transliterates upper- or lower-case Russian Cyrillic to upper-case Latin;
/// other characters (spaces, hyphens, Latin) are kept, upper-cased.
pub fn transliterate(text: &str, scheme: Scheme) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_uppercase) {
        out.push_str(&latin(c, scheme).unwrap_or_else(|| c.to_string()));
    }
    out
}

/// The Latin spelling of one upper-case Cyrillic letter, `None` if `c` is not one.
fn latin(c: char, scheme: Scheme) -> Option<String> {
    use Scheme::*;
    let s = match c {
        'А' => "A",
        'Б' => "B",
        'В' => "V",
        'Г' => "G",
        'Д' => "D",
        'Е' | 'Ё' | 'Э' => "E",
        'Ж' => "ZH",
        'З' => "Z",
        'И' => "I",
        'Й' => match scheme {
            Mvd310 => "Y",
            Icao2013 | Gost2006 => "I",
        },
        'К' => "K",
        'Л' => "L",
        'М' => "M",
        'Н' => "N",
        'О' => "O",
        'П' => "P",
        'Р' => "R",
        'С' => "S",
        'Т' => "T",
        'У' => "U",
        'Ф' => "F",
        'Х' => "KH",
        'Ц' => match scheme {
            Gost2006 => "TC",
            Icao2013 | Mvd310 => "TS",
        },
        'Ч' => "CH",
        'Ш' => "SH",
        'Щ' => "SHCH",
        'Ъ' => match scheme {
            Icao2013 => "IE",
            Mvd310 | Gost2006 => "",
        },
        'Ы' => "Y",
        'Ь' => "",
        'Ю' => match scheme {
            Mvd310 => "YU",
            Icao2013 | Gost2006 => "IU",
        },
        'Я' => match scheme {
            Mvd310 => "YA",
            Icao2013 | Gost2006 => "IA",
        },
        _ => return None,
    };
    Some(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icao_2013_examples_from_the_anchors() {
        assert_eq!(transliterate("ЮЛИЯ", Scheme::Icao2013), "IULIIA");
        assert_eq!(transliterate("ТУРСУНОВ", Scheme::Icao2013), "TURSUNOV");
        assert_eq!(transliterate("Цой", Scheme::Icao2013), "TSOI");
        assert_eq!(transliterate("ЭЛЬЧИН", Scheme::Icao2013), "ELCHIN");
        assert_eq!(transliterate("ЪЫЩ", Scheme::Icao2013), "IEYSHCH");
    }

    #[test]
    fn older_schemes_differ_where_expected() {
        assert_eq!(transliterate("ЮЛИЯ", Scheme::Mvd310), "YULIYA");
        assert_eq!(transliterate("ЦОЙ", Scheme::Mvd310), "TSOY");
        assert_eq!(transliterate("ЦОЙ", Scheme::Gost2006), "TCOI");
        assert_eq!(transliterate("ЖУКОВСКИЙ", Scheme::Mvd310), "ZHUKOVSKIY");
    }
}
