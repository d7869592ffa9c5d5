//! Synthetic holders: realistic names from the countries most foreigners in
//! Russia come from. CIS names are kept in Russian Cyrillic and in the Latin
//! MRZ spelling, which is the ICAO 9303 (2013) transliteration of it, so the
//! other side can test transliteration equivalence.

use crate::date::Date;
use crate::translit::{transliterate, Scheme};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

/// Sex as printed in the MRZ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sex {
    M,
    F,
}

impl Sex {
    pub fn latin(self) -> &'static str {
        match self {
            Sex::M => "M",
            Sex::F => "F",
        }
    }

    pub fn cyrillic(self) -> &'static str {
        match self {
            Sex::M => "М",
            Sex::F => "Ж",
        }
    }
}

/// A surname and given names, words separated by single spaces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Names {
    pub surname: String,
    pub given_names: String,
}

/// How a country's documents carry the father's name, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Patronymic {
    None,
    /// Russian style: АЛИШЕРОВИЧ / АЛИШЕРОВНА.
    Russian,
    /// Azerbaijani style: ГАМИД ОГЛЫ / ГАМИД КЫЗЫ.
    Oglu,
}

/// A country of origin with its name pools; Cyrillic pools are in Russian
/// spelling, Latin pools are the spelling of the country's own passports.
#[derive(Debug)]
pub struct Country {
    /// ICAO three-letter code.
    pub code: &'static str,
    /// The issuing-state header of its documents.
    pub state_name: &'static str,
    /// The country as written in a nationality field.
    pub short_name: &'static str,
    cyrillic: bool,
    patronymic: Patronymic,
    surnames: &'static [&'static str],
    long_surnames: &'static [&'static str],
    male: &'static [&'static str],
    female: &'static [&'static str],
    cities: &'static [&'static str],
    /// Passport number shape: `L` a letter, `D` a digit.
    pub passport_number: &'static str,
    weight: u32,
}

pub static COUNTRIES: [Country; 15] = [
    Country {
        code: "UZB",
        state_name: "REPUBLIC OF UZBEKISTAN",
        short_name: "UZBEKISTAN",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "ТУРСУНОВ",
            "КАРИМОВ",
            "ЮСУПОВ",
            "РАХИМОВ",
            "АБДУЛЛАЕВ",
            "МИРЗАЕВ",
            "ЭРГАШЕВ",
            "НОРМАТОВ",
            "ХОДЖАЕВ",
            "ЦОЙ",
            "КИМ",
            "ПАК",
        ],
        long_surnames: &["ХУДОЙБЕРДИЕВ", "АБДУРАХМАНОВ", "НАСРИДДИНОВ", "ШАМСУТДИНОВ"],
        male: &[
            "АЛИШЕР",
            "БОБУР",
            "ДИЛШОД",
            "ЖАХОНГИР",
            "ШЕРЗОД",
            "УЛУГБЕК",
            "ФАРРУХ",
            "САРДОР",
            "БАХТИЁР",
            "ОЙБЕК",
        ],
        female: &[
            "ДИЛНОЗА",
            "НИГОРА",
            "ГУЛЬНОРА",
            "ШАХНОЗА",
            "МАДИНА",
            "ЗУЛЬФИЯ",
            "ФЕРУЗА",
            "ЮЛДУЗ",
        ],
        cities: &["TASHKENT", "SAMARKAND", "BUKHARA", "NAMANGAN", "ANDIJAN"],
        passport_number: "LLDDDDDDD",
        weight: 25,
    },
    Country {
        code: "TJK",
        state_name: "REPUBLIC OF TAJIKISTAN",
        short_name: "TAJIKISTAN",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "РАХМОНОВ",
            "САФАРОВ",
            "НАЗАРОВ",
            "ШАРИПОВ",
            "КУРБОНОВ",
            "ДЖУРАЕВ",
            "ИСМОИЛОВ",
            "САИДОВ",
        ],
        long_surnames: &["ХАЙДАРШОЕВ", "НУРМАХМАДОВ", "ДЖАМОЛИДДИНОВ"],
        male: &[
            "ФИРДАВС",
            "ДЖАМШЕД",
            "БЕХРУЗ",
            "ФАРХОД",
            "СУХРОБ",
            "ШАХРОМ",
            "ИСЛОМ",
            "ИСКАНДАР",
        ],
        female: &[
            "МАНИЖА",
            "ТАХМИНА",
            "ФАРАНГИС",
            "ЗАРИНА",
            "НИЛУФАР",
            "МАЛИКА",
        ],
        cities: &["DUSHANBE", "KHUJAND", "KULOB", "BOKHTAR"],
        passport_number: "DDDDDDDDD",
        weight: 18,
    },
    Country {
        code: "KGZ",
        state_name: "KYRGYZ REPUBLIC",
        short_name: "KYRGYZSTAN",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "АСАНОВ",
            "ЖУМАБАЕВ",
            "САДЫКОВ",
            "ОСМОНОВ",
            "ТОКТОГУЛОВ",
            "МАМЫТОВ",
            "ЭСЕНАЛИЕВ",
        ],
        long_surnames: &["КУБАНЫЧБЕКОВ", "АБДЫЖАПАРОВ"],
        male: &[
            "АЙБЕК",
            "БАКЫТ",
            "НУРЛАН",
            "ЭРЛАН",
            "АЗАМАТ",
            "ЧЫНГЫЗ",
            "ТИМУР",
            "АЙДАР",
        ],
        female: &["АЙГУЛЬ", "ЖЫЛДЫЗ", "НАЗГУЛЬ", "АСЕЛЬ", "ЧОЛПОН", "АЙПЕРИ"],
        cities: &["BISHKEK", "OSH", "JALAL-ABAD", "KARAKOL"],
        passport_number: "LLDDDDDDD",
        weight: 12,
    },
    Country {
        code: "KAZ",
        state_name: "REPUBLIC OF KAZAKHSTAN",
        short_name: "KAZAKHSTAN",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "НУРГАЛИЕВ",
            "ИСКАКОВ",
            "СУЛЕЙМЕНОВ",
            "ЖАКСЫБЕКОВ",
            "АХМЕТОВ",
            "ОМАРОВ",
            "САРСЕНБАЕВ",
        ],
        long_surnames: &["БЕКМУХАМБЕТОВ", "ЖАНАБЕРГЕНОВ"],
        male: &[
            "ЕРЛАН",
            "ДАУРЕН",
            "АСЕТ",
            "ЕРЖАН",
            "АРМАН",
            "ТИМУР",
            "НУРЛАН",
            "САНЖАР",
        ],
        female: &[
            "АЙЖАН",
            "ДИНАРА",
            "ГУЛЬНАР",
            "САУЛЕ",
            "АЛИЯ",
            "АСЕЛЬ",
            "ЖАНАР",
        ],
        cities: &["ALMATY", "ASTANA", "SHYMKENT", "KARAGANDA"],
        passport_number: "LDDDDDDDD",
        weight: 8,
    },
    Country {
        code: "ARM",
        state_name: "REPUBLIC OF ARMENIA",
        short_name: "ARMENIA",
        cyrillic: true,
        patronymic: Patronymic::None,
        surnames: &[
            "АВЕТИСЯН",
            "ГРИГОРЯН",
            "ОГАНЕСЯН",
            "САРГСЯН",
            "МАНУКЯН",
            "ПЕТРОСЯН",
            "ХАЧАТРЯН",
            "МКРТЧЯН",
        ],
        long_surnames: &["ТЕР-ПЕТРОСЯН", "ТЕР-ГРИГОРЯН"],
        male: &[
            "АРАМ",
            "ГАЙК",
            "ТИГРАН",
            "АРМЕН",
            "ДАВИД",
            "НАРЕК",
            "ВАРДАН",
            "АРТУР",
        ],
        female: &[
            "АННА",
            "АНУШ",
            "ЛИЛИТ",
            "НАРИНЕ",
            "АСТГИК",
            "МАРИАМ",
            "ГАЯНЕ",
        ],
        cities: &["YEREVAN", "GYUMRI", "VANADZOR"],
        passport_number: "LLDDDDDDD",
        weight: 6,
    },
    Country {
        code: "AZE",
        state_name: "REPUBLIC OF AZERBAIJAN",
        short_name: "AZERBAIJAN",
        cyrillic: true,
        patronymic: Patronymic::Oglu,
        surnames: &[
            "МАМЕДОВ",
            "АЛИЕВ",
            "ГУСЕЙНОВ",
            "ГАСАНОВ",
            "ИСМАИЛОВ",
            "АББАСОВ",
            "ГУЛИЕВ",
            "ВЕЛИЕВ",
        ],
        long_surnames: &["АЛЛАХВЕРДИЕВ", "МАМЕДГУСЕЙНОВ"],
        male: &[
            "ЭЛЬЧИН",
            "РАШАД",
            "ТУРАЛ",
            "ОРХАН",
            "ЭЛЬНУР",
            "САМИР",
            "РУСЛАН",
            "ФАРИД",
        ],
        female: &["АЙТАН", "ГЮНАЙ", "ЛЕЙЛА", "СЕВИНДЖ", "НАРМИН", "ЭЛЬВИРА"],
        cities: &["BAKU", "GANJA", "SUMGAIT"],
        passport_number: "LDDDDDDDD",
        weight: 6,
    },
    Country {
        code: "UKR",
        state_name: "UKRAINE",
        short_name: "UKRAINE",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "КОВАЛЕНКО",
            "ШЕВЧЕНКО",
            "БОНДАРЕНКО",
            "ТКАЧЕНКО",
            "КРАВЧЕНКО",
            "МЕЛЬНИК",
            "ПОЛИЩУК",
            "ЛЫСЕНКО",
        ],
        long_surnames: &["ГРИГОРЕНКО-ЯРОШЕВСКИЙ"],
        male: &[
            "АЛЕКСАНДР",
            "СЕРГЕЙ",
            "ДМИТРИЙ",
            "АНДРЕЙ",
            "ЮРИЙ",
            "ВИТАЛИЙ",
            "ТАРАС",
        ],
        female: &["ЮЛИЯ", "ОКСАНА", "НАТАЛЬЯ", "ТАТЬЯНА", "ИРИНА", "ОЛЬГА"],
        cities: &["KYIV", "KHARKIV", "ODESA", "DNIPRO"],
        passport_number: "LLDDDDDD",
        weight: 5,
    },
    Country {
        code: "MDA",
        state_name: "REPUBLIC OF MOLDOVA",
        short_name: "MOLDOVA",
        cyrillic: false,
        patronymic: Patronymic::None,
        surnames: &[
            "ROTARU", "CEBAN", "MUNTEANU", "CIOBANU", "RUSU", "LUPU", "TURCANU", "BALAN",
        ],
        long_surnames: &["POPESCU-STRATULAT"],
        male: &["ION", "VASILE", "ANDREI", "MIHAI", "VICTOR", "ALEXANDRU"],
        female: &["MARIA", "ELENA", "ANA", "NATALIA", "CRISTINA", "IRINA"],
        cities: &["CHISINAU", "BALTI", "CAHUL"],
        passport_number: "LLDDDDDDD",
        weight: 3,
    },
    Country {
        code: "BLR",
        state_name: "REPUBLIC OF BELARUS",
        short_name: "BELARUS",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "КОВАЛЁВ",
            "НОВИК",
            "ЛУКАШЕВИЧ",
            "ЖУКОВСКИЙ",
            "КОЗЛОВСКИЙ",
            "ВОРОНОВИЧ",
            "ГОНЧАРОВ",
            "ЯКОВЛЕВ",
        ],
        long_surnames: &["ЗАЛЕССКИЙ-ДОВНАРОВИЧ"],
        male: &[
            "ДМИТРИЙ",
            "АЛЕКСЕЙ",
            "ЕВГЕНИЙ",
            "ИГОРЬ",
            "ВЛАДИМИР",
            "МИХАИЛ",
        ],
        female: &[
            "ЮЛИЯ",
            "АНАСТАСИЯ",
            "ЕКАТЕРИНА",
            "ВАЛЕНТИНА",
            "ДАРЬЯ",
            "ОЛЬГА",
        ],
        cities: &["MINSK", "GOMEL", "BREST", "GRODNO"],
        passport_number: "LLDDDDDDD",
        weight: 3,
    },
    Country {
        code: "TKM",
        state_name: "TURKMENISTAN",
        short_name: "TURKMENISTAN",
        cyrillic: true,
        patronymic: Patronymic::Russian,
        surnames: &[
            "АТАЕВ",
            "ОРАЗОВ",
            "ЧАРЫЕВ",
            "ГЕЛЬДЫЕВ",
            "БАЙРАМОВ",
            "АННАЕВ",
            "КУРБАНОВ",
        ],
        long_surnames: &["ГУРБАНГЕЛЬДЫЕВ"],
        male: &[
            "БЕГЕНЧ",
            "МЕРДАН",
            "СЕРДАР",
            "ГУВАНЧ",
            "ДОВЛЕТ",
            "МАКСАТ",
            "РОВШЕН",
        ],
        female: &["ДЖЕННЕТ", "АЙНА", "МАЯ", "ГУЛЬШАТ", "ОГУЛДЖАН", "ЭДЖЕБАЙ"],
        cities: &["ASHGABAT", "TURKMENABAT", "MARY", "DASHOGUZ"],
        passport_number: "LDDDDDDD",
        weight: 3,
    },
    Country {
        code: "GEO",
        state_name: "GEORGIA",
        short_name: "GEORGIA",
        cyrillic: true,
        patronymic: Patronymic::None,
        surnames: &[
            "БЕРИДЗЕ",
            "ГЕЛАШВИЛИ",
            "ЦИКЛАУРИ",
            "КАПАНАДЗЕ",
            "МАМАЛАДЗЕ",
            "ЛОМИДЗЕ",
        ],
        long_surnames: &["ДЖАВАХИШВИЛИ", "ГОГИБЕРИДЗЕ"],
        male: &[
            "ГИОРГИ",
            "ДАВИТ",
            "НИКА",
            "ЛЕВАН",
            "ЛАША",
            "ИРАКЛИ",
            "ЗУРАБ",
        ],
        female: &["НИНО", "ТАМАР", "МАРИАМ", "ЭКА", "НАТИА", "САЛОМЕ"],
        cities: &["TBILISI", "KUTAISI", "BATUMI"],
        passport_number: "DDLLDDDDD",
        weight: 3,
    },
    Country {
        code: "CHN",
        state_name: "PEOPLE'S REPUBLIC OF CHINA",
        short_name: "CHINA",
        cyrillic: false,
        patronymic: Patronymic::None,
        surnames: &[
            "WANG", "LI", "ZHANG", "LIU", "CHEN", "YANG", "HUANG", "ZHAO",
        ],
        long_surnames: &["OUYANG"],
        male: &["WEI", "QIANG", "JIANGUO", "XIAOMING", "HAORAN", "ZHIWEI"],
        female: &["FANG", "LIHUA", "YUTING", "XIAOYAN", "JING", "MEILING"],
        cities: &["BEIJING", "SHANGHAI", "HARBIN", "URUMQI"],
        passport_number: "LDDDDDDDD",
        weight: 4,
    },
    Country {
        code: "VNM",
        state_name: "SOCIALIST REPUBLIC OF VIET NAM",
        short_name: "VIET NAM",
        cyrillic: false,
        patronymic: Patronymic::None,
        surnames: &["NGUYEN", "TRAN", "LE", "PHAM", "HOANG", "VU", "DANG"],
        long_surnames: &["NGUYEN PHUOC"],
        male: &["VAN HUNG", "MINH TUAN", "DUC ANH", "QUANG HAI", "VAN NAM"],
        female: &["THI LAN", "THI HUONG", "THU TRANG", "NGOC ANH", "THI MAI"],
        cities: &["HA NOI", "HAI PHONG", "HO CHI MINH"],
        passport_number: "LDDDDDDD",
        weight: 2,
    },
    Country {
        code: "IND",
        state_name: "REPUBLIC OF INDIA",
        short_name: "INDIA",
        cyrillic: false,
        patronymic: Patronymic::None,
        surnames: &[
            "SHARMA", "SINGH", "KUMAR", "PATEL", "GUPTA", "REDDY", "NAIR",
        ],
        long_surnames: &["VENKATARAMAN", "RAMACHANDRAN"],
        male: &[
            "RAHUL",
            "AMIT",
            "ARJUN",
            "VIKRAM",
            "SURESH",
            "MOHAMMED IRFAN",
        ],
        female: &["PRIYA", "SUNITA", "ANJALI", "DEEPIKA", "LAKSHMI"],
        cities: &["NEW DELHI", "MUMBAI", "CHENNAI", "KOLKATA"],
        passport_number: "LDDDDDDD",
        weight: 2,
    },
    Country {
        code: "TUR",
        state_name: "REPUBLIC OF TÜRKİYE",
        short_name: "TÜRKİYE",
        cyrillic: false,
        patronymic: Patronymic::None,
        surnames: &[
            "YILMAZ", "KAYA", "DEMIR", "SAHIN", "CELIK", "YILDIZ", "OZTURK", "AYDIN",
        ],
        long_surnames: &["KARAMUSTAFAOGLU"],
        male: &[
            "MEHMET",
            "MUSTAFA",
            "AHMET",
            "EMRE",
            "MEHMET ALI",
            "HASAN HUSEYIN",
        ],
        female: &["AYSE", "FATMA", "EMINE", "ZEYNEP", "AYSE NUR", "ELIF"],
        cities: &["ISTANBUL", "ANKARA", "IZMIR", "TRABZON"],
        passport_number: "LDDDDDDDD",
        weight: 2,
    },
];

/// The country with ICAO code `code`.
pub fn country(code: &str) -> Option<&'static Country> {
    COUNTRIES.iter().find(|c| c.code == code)
}

/// A document holder.
#[derive(Debug, Clone)]
pub struct Person {
    pub country: &'static Country,
    pub sex: Sex,
    /// Names in Russian Cyrillic, when the holder has them.
    pub cyrillic: Option<Names>,
    /// Names in Latin: the ICAO 9303 transliteration of the Cyrillic ones,
    /// or the passport spelling for Latin-script countries. Never truncated.
    pub latin: Names,
    pub birth_date: Date,
    pub birth_place: &'static str,
}

impl Person {
    /// A holder drawn from `rng`: weighted country, sex, names (one in six
    /// long enough for the MRZ to truncate), birth date 1965–2005.
    pub fn generate(rng: &mut StdRng) -> Person {
        let total: u32 = COUNTRIES.iter().map(|c| c.weight).sum();
        let mut pick = rng.gen_range(0..total);
        let country = COUNTRIES
            .iter()
            .find(|c| {
                if pick < c.weight {
                    true
                } else {
                    pick -= c.weight;
                    false
                }
            })
            .unwrap_or(&COUNTRIES[0]);
        let sex = if rng.gen_bool(0.5) { Sex::M } else { Sex::F };
        let long = rng.gen_ratio(1, 6) && !country.long_surnames.is_empty();

        let pool = if long {
            country.long_surnames
        } else {
            country.surnames
        };
        let mut surname = pick_from(rng, pool).to_string();
        if sex == Sex::F && country.cyrillic {
            surname = feminine(&surname);
        }
        let names = match sex {
            Sex::M => country.male,
            Sex::F => country.female,
        };
        let mut given = vec![pick_from(rng, names).to_string()];
        if long {
            let second = pick_from(rng, names);
            if !given.iter().any(|g| g == second) {
                given.push(second.to_string());
            }
        }
        if let Some(p) = patronymic(rng, country, sex, long) {
            given.push(p);
        }
        let given = given.join(" ");

        let (cyrillic, latin) = if country.cyrillic {
            let latin = Names {
                surname: transliterate(&surname, Scheme::Icao2013),
                given_names: transliterate(&given, Scheme::Icao2013),
            };
            let cyrillic = Names {
                surname,
                given_names: given,
            };
            (Some(cyrillic), latin)
        } else {
            let latin = Names {
                surname,
                given_names: given,
            };
            (None, latin)
        };

        let first = Date {
            year: 1965,
            month: 1,
            day: 1,
        }
        .to_days();
        let last = Date {
            year: 2005,
            month: 12,
            day: 31,
        }
        .to_days();
        let birth_date = Date::from_days(rng.gen_range(first..=last));
        let birth_place = pick_from(rng, country.cities);
        Person {
            country,
            sex,
            cyrillic,
            latin,
            birth_date,
            birth_place,
        }
    }

    /// The names in an older Latin spelling (MVD-310, else GOST 2006) when it
    /// differs from the ICAO one: what an applicant copies from an old passport.
    pub fn older_latin(&self) -> Option<Names> {
        let cyrillic = self.cyrillic.as_ref()?;
        [Scheme::Mvd310, Scheme::Gost2006]
            .into_iter()
            .map(|scheme| Names {
                surname: transliterate(&cyrillic.surname, scheme),
                given_names: transliterate(&cyrillic.given_names, scheme),
            })
            .find(|names| *names != self.latin)
    }
}

fn pick_from(rng: &mut StdRng, pool: &'static [&'static str]) -> &'static str {
    pool.choose(rng).copied().unwrap_or("X")
}

/// The Russian feminine form of a Cyrillic surname (КАРИМОВ → КАРИМОВА,
/// ЖУКОВСКИЙ → ЖУКОВСКАЯ); surnames without gender (-ЯН, -ЕНКО, -ИЧ, -ДЗЕ) stay.
fn feminine(surname: &str) -> String {
    if let Some(stem) = surname.strip_suffix("ИЙ") {
        if stem.ends_with("СК") || stem.ends_with("ЦК") {
            return format!("{stem}АЯ");
        }
    }
    if ["ОВ", "ЕВ", "ЁВ", "ИН", "ЫН"]
        .iter()
        .any(|suffix| surname.ends_with(suffix))
    {
        return format!("{surname}А");
    }
    surname.to_string()
}

/// A patronymic in the country's style, for one holder in four (always for
/// long names), from a father's name that forms one regularly.
fn patronymic(rng: &mut StdRng, country: &Country, sex: Sex, long: bool) -> Option<String> {
    if country.patronymic == Patronymic::None || !(long || rng.gen_ratio(1, 4)) {
        return None;
    }
    let father = pick_from(rng, country.male);
    match country.patronymic {
        Patronymic::None => None,
        Patronymic::Oglu => Some(match sex {
            Sex::M => format!("{father} ОГЛЫ"),
            Sex::F => format!("{father} КЫЗЫ"),
        }),
        Patronymic::Russian => {
            let (stem, soft) = if let Some(stem) = father.strip_suffix('Й') {
                (stem, true)
            } else if let Some(stem) = father.strip_suffix('Ь') {
                (stem, true)
            } else if father.ends_with(['Ж', 'Ш', 'Ч', 'Щ', 'Ц']) {
                (father, true)
            } else if father.ends_with(['А', 'Е', 'И', 'О', 'У', 'Ы', 'Э', 'Ю', 'Я']) {
                return None;
            } else {
                (father, false)
            };
            let suffix = match (soft, sex) {
                (true, Sex::M) => "ЕВИЧ",
                (true, Sex::F) => "ЕВНА",
                (false, Sex::M) => "ОВИЧ",
                (false, Sex::F) => "ОВНА",
            };
            Some(format!("{stem}{suffix}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn feminine_forms() {
        assert_eq!(feminine("КАРИМОВ"), "КАРИМОВА");
        assert_eq!(feminine("КОВАЛЁВ"), "КОВАЛЁВА");
        assert_eq!(feminine("ЖУКОВСКИЙ"), "ЖУКОВСКАЯ");
        assert_eq!(feminine("ГРИГОРЯН"), "ГРИГОРЯН");
        assert_eq!(feminine("ЛУКАШЕВИЧ"), "ЛУКАШЕВИЧ");
        assert_eq!(feminine("ЦОЙ"), "ЦОЙ");
    }

    #[test]
    fn latin_names_are_mrz_clean_and_cyrillic_ones_transliterate_to_them() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..500 {
            let p = Person::generate(&mut rng);
            for name in [&p.latin.surname, &p.latin.given_names] {
                assert!(
                    name.chars()
                        .all(|c| c.is_ascii_uppercase() || c == ' ' || c == '-' || c == '\''),
                    "{name}"
                );
                assert!(!name.contains("  ") && name.trim() == name, "{name:?}");
            }
            if let Some(c) = &p.cyrillic {
                assert_eq!(transliterate(&c.surname, Scheme::Icao2013), p.latin.surname);
                assert_eq!(
                    transliterate(&c.given_names, Scheme::Icao2013),
                    p.latin.given_names
                );
            }
        }
    }
}
