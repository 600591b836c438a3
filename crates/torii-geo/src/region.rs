//! Cloudflare's thirteen load-balancing regions and the rules that place a client in one.
//!
//! Countries map to regions through the built-in table in [`crate::country`]. The United
//! States and Canada are split by state or province (see [`Region::of_place`]).

use crate::CountryCode;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A geographic region, with Cloudflare Load Balancing's region codes.
///
/// Parse with [`FromStr`] (`"WNAM"`, case-insensitive); [`Display`](fmt::Display) prints the
/// code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    /// `WNAM`: Western North America (western US states and Canadian provinces, Mexico,
    /// Central America).
    Wnam,
    /// `ENAM`: Eastern North America (eastern US states and Canadian provinces, the Caribbean).
    Enam,
    /// `WEU`: Western Europe.
    Weu,
    /// `EEU`: Eastern Europe (including Russia and Türkiye).
    Eeu,
    /// `NSAM`: Northern South America.
    Nsam,
    /// `SSAM`: Southern South America (including Brazil).
    Ssam,
    /// `OC`: Oceania (including Antarctica).
    Oc,
    /// `ME`: Middle East (including the Caucasus).
    Me,
    /// `NAF`: Northern Africa (Africa north of the equator, including West Africa and the
    /// Horn).
    Naf,
    /// `SAF`: Southern Africa (Africa south of the equator, including Kenya and Uganda).
    Saf,
    /// `SAS`: Southern Asia (the Indian subcontinent and Central Asia).
    Sas,
    /// `SEAS`: Southeast Asia.
    Seas,
    /// `NEAS`: Northeast Asia.
    Neas,
}

impl Region {
    /// Every region, in the order Cloudflare lists them.
    pub const ALL: [Region; 13] = [
        Region::Wnam,
        Region::Enam,
        Region::Weu,
        Region::Eeu,
        Region::Nsam,
        Region::Ssam,
        Region::Oc,
        Region::Me,
        Region::Naf,
        Region::Saf,
        Region::Sas,
        Region::Seas,
        Region::Neas,
    ];

    /// The region code, e.g. `"WNAM"`.
    pub const fn code(self) -> &'static str {
        match self {
            Region::Wnam => "WNAM",
            Region::Enam => "ENAM",
            Region::Weu => "WEU",
            Region::Eeu => "EEU",
            Region::Nsam => "NSAM",
            Region::Ssam => "SSAM",
            Region::Oc => "OC",
            Region::Me => "ME",
            Region::Naf => "NAF",
            Region::Saf => "SAF",
            Region::Sas => "SAS",
            Region::Seas => "SEAS",
            Region::Neas => "NEAS",
        }
    }

    /// The region's English name, e.g. `"Western North America"`.
    pub const fn name(self) -> &'static str {
        match self {
            Region::Wnam => "Western North America",
            Region::Enam => "Eastern North America",
            Region::Weu => "Western Europe",
            Region::Eeu => "Eastern Europe",
            Region::Nsam => "Northern South America",
            Region::Ssam => "Southern South America",
            Region::Oc => "Oceania",
            Region::Me => "Middle East",
            Region::Naf => "Northern Africa",
            Region::Saf => "Southern Africa",
            Region::Sas => "Southern Asia",
            Region::Seas => "Southeast Asia",
            Region::Neas => "Northeast Asia",
        }
    }

    /// The region of a country as a whole (the built-in table).
    ///
    /// For the United States and Canada, which are split between [`Region::Wnam`] and
    /// [`Region::Enam`], this is the region where most of the population lives: `ENAM` (about
    /// 57 % of US and 66 % of Canadian residents). [`Region::of_place`] does better when the
    /// state, province or longitude is known.
    pub fn of_country(country: CountryCode) -> Region {
        country.region()
    }

    /// The region of a place in `country`.
    ///
    /// Only the United States and Canada are split (as Cloudflare does); for them, in order:
    /// 1. `subdivision`: an ISO 3166-2 code with or without the country prefix (`"TX"`,
    ///    `"US-TX"`, `"BC"`) or an English name (`"Texas"`, `"Québec"`, `"Quebec"`),
    ///    case-insensitive. US states west of the Mississippi River (plus Alaska and Hawaii)
    ///    and the Canadian provinces and territories west of Ontario are `WNAM`; the rest are
    ///    `ENAM`. US territories reported as subdivisions (`PR`, `GU`, …) get their own
    ///    country's region.
    /// 2. `longitude`, when the subdivision is absent or unknown: west of 90° W (US) or
    ///    95.15° W (Canada, the Manitoba–Ontario border) is `WNAM`.
    /// 3. Otherwise [`Region::of_country`] (`ENAM`).
    ///
    /// Every other country gets its table region; `subdivision` and `longitude` are ignored.
    pub fn of_place(
        country: CountryCode,
        subdivision: Option<&str>,
        longitude: Option<f64>,
    ) -> Region {
        let (table, west_of): (&[Subdivision], f64) = match country.as_bytes() {
            b"US" => (US_STATES, -90.0),
            b"CA" => (CA_PROVINCES, -95.15),
            _ => return country.region(),
        };
        if let Some(region) = subdivision.and_then(|s| subdivision_region(table, country, s)) {
            return region;
        }
        match longitude {
            Some(lon) if lon.is_finite() && (-180.0..=180.0).contains(&lon) => {
                if lon < west_of {
                    Region::Wnam
                } else {
                    Region::Enam
                }
            }
            _ => country.region(),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Serialize for Region {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code())
    }
}

/// A string that is not one of the thirteen region codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown region {input:?}: expected one of WNAM, ENAM, WEU, EEU, NSAM, SSAM, OC, ME, NAF, \
     SAF, SAS, SEAS, NEAS"
)]
pub struct ParseRegionError {
    /// The rejected input.
    pub input: String,
}

impl FromStr for Region {
    type Err = ParseRegionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseRegionError {
                input: s.to_owned(),
            })
    }
}

/// One ISO 3166-2 subdivision: code without the country prefix, English names, region.
type Subdivision = (&'static str, &'static [&'static str], Region);

fn subdivision_region(table: &[Subdivision], country: CountryCode, input: &str) -> Option<Region> {
    let input = input.trim();
    // "US-TX" → "TX" (only with this country's own prefix).
    let code = match input.split_once('-') {
        Some((prefix, rest)) if prefix.eq_ignore_ascii_case(country.as_str()) => rest,
        _ => input,
    };
    table
        .iter()
        .find(|(c, names, _)| {
            c.eq_ignore_ascii_case(code) || names.iter().any(|n| n.eq_ignore_ascii_case(input))
        })
        .map(|&(_, _, region)| region)
}

use Region::{Enam, Oc, Wnam};

/// US states, DC and the territories that ISO 3166-2:US lists. West of the Mississippi River
/// (and AK, HI) is WNAM; that rule reproduces every state Cloudflare's published WNAM example
/// lists (AZ, CA, CO, HI, MN, MO, NV, OR, TX, UT, WA).
const US_STATES: &[Subdivision] = &[
    ("AK", &["Alaska"], Wnam),
    ("AL", &["Alabama"], Enam),
    ("AR", &["Arkansas"], Wnam),
    ("AZ", &["Arizona"], Wnam),
    ("CA", &["California"], Wnam),
    ("CO", &["Colorado"], Wnam),
    ("CT", &["Connecticut"], Enam),
    ("DC", &["District of Columbia", "Washington, D.C."], Enam),
    ("DE", &["Delaware"], Enam),
    ("FL", &["Florida"], Enam),
    ("GA", &["Georgia"], Enam),
    ("HI", &["Hawaii"], Wnam),
    ("IA", &["Iowa"], Wnam),
    ("ID", &["Idaho"], Wnam),
    ("IL", &["Illinois"], Enam),
    ("IN", &["Indiana"], Enam),
    ("KS", &["Kansas"], Wnam),
    ("KY", &["Kentucky"], Enam),
    ("LA", &["Louisiana"], Wnam),
    ("MA", &["Massachusetts"], Enam),
    ("MD", &["Maryland"], Enam),
    ("ME", &["Maine"], Enam),
    ("MI", &["Michigan"], Enam),
    ("MN", &["Minnesota"], Wnam),
    ("MO", &["Missouri"], Wnam),
    ("MS", &["Mississippi"], Enam),
    ("MT", &["Montana"], Wnam),
    ("NC", &["North Carolina"], Enam),
    ("ND", &["North Dakota"], Wnam),
    ("NE", &["Nebraska"], Wnam),
    ("NH", &["New Hampshire"], Enam),
    ("NJ", &["New Jersey"], Enam),
    ("NM", &["New Mexico"], Wnam),
    ("NV", &["Nevada"], Wnam),
    ("NY", &["New York"], Enam),
    ("OH", &["Ohio"], Enam),
    ("OK", &["Oklahoma"], Wnam),
    ("OR", &["Oregon"], Wnam),
    ("PA", &["Pennsylvania"], Enam),
    ("RI", &["Rhode Island"], Enam),
    ("SC", &["South Carolina"], Enam),
    ("SD", &["South Dakota"], Wnam),
    ("TN", &["Tennessee"], Enam),
    ("TX", &["Texas"], Wnam),
    ("UT", &["Utah"], Wnam),
    ("VA", &["Virginia"], Enam),
    ("VT", &["Vermont"], Enam),
    ("WA", &["Washington"], Wnam),
    ("WI", &["Wisconsin"], Enam),
    ("WV", &["West Virginia"], Enam),
    ("WY", &["Wyoming"], Wnam),
    // Outlying areas, which also have their own ISO 3166-1 codes.
    ("AS", &["American Samoa"], Oc),
    ("GU", &["Guam"], Oc),
    ("MP", &["Northern Mariana Islands"], Oc),
    ("PR", &["Puerto Rico"], Enam),
    ("UM", &["United States Minor Outlying Islands"], Oc),
    ("VI", &["Virgin Islands", "U.S. Virgin Islands"], Enam),
];

/// Canadian provinces and territories: west of Ontario is WNAM (Cloudflare's example lists
/// AB and BC), Ontario and east is ENAM.
const CA_PROVINCES: &[Subdivision] = &[
    ("AB", &["Alberta"], Wnam),
    ("BC", &["British Columbia"], Wnam),
    ("MB", &["Manitoba"], Wnam),
    ("NB", &["New Brunswick"], Enam),
    ("NL", &["Newfoundland and Labrador", "Newfoundland"], Enam),
    ("NS", &["Nova Scotia"], Enam),
    ("NT", &["Northwest Territories"], Wnam),
    ("NU", &["Nunavut"], Wnam),
    ("ON", &["Ontario"], Enam),
    ("PE", &["Prince Edward Island"], Enam),
    ("QC", &["Quebec", "Québec"], Enam),
    ("SK", &["Saskatchewan"], Wnam),
    ("YT", &["Yukon", "Yukon Territory"], Wnam),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(s: &str) -> CountryCode {
        s.parse().unwrap()
    }

    #[test]
    fn codes_round_trip() {
        for r in Region::ALL {
            assert_eq!(r.code().parse::<Region>(), Ok(r));
            assert_eq!(r.code().to_lowercase().parse::<Region>(), Ok(r));
            assert_eq!(r.to_string(), r.code());
        }
        for bad in ["", "NA", "WNAM ", "EU", "IN", "AFR"] {
            assert_eq!(
                bad.parse::<Region>(),
                Err(ParseRegionError { input: bad.into() }),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn cloudflare_wnam_example_is_reproduced() {
        // Cloudflare's documented GET /load_balancers/regions/WNAM response.
        for state in [
            "AZ", "CA", "CO", "HI", "MN", "MO", "NV", "OR", "TX", "UT", "WA",
        ] {
            assert_eq!(
                Region::of_place(cc("US"), Some(state), None),
                Region::Wnam,
                "{state}"
            );
        }
        for province in ["AB", "BC"] {
            assert_eq!(
                Region::of_place(cc("CA"), Some(province), None),
                Region::Wnam
            );
        }
        assert_eq!(Region::of_country(cc("MX")), Region::Wnam);
        assert_eq!(Region::of_country(cc("HT")), Region::Wnam);
    }

    #[test]
    fn us_and_canada_split() {
        // (country, subdivision, longitude, expected)
        let cases: &[(&str, Option<&str>, Option<f64>, Region)] = &[
            ("US", Some("NY"), None, Region::Enam),
            ("US", Some("US-NY"), None, Region::Enam),
            ("US", Some("us-tx"), None, Region::Wnam),
            ("US", Some("Texas"), None, Region::Wnam),
            ("US", Some("new york"), None, Region::Enam),
            ("US", Some("DC"), None, Region::Enam),
            ("US", Some("IL"), None, Region::Enam),
            ("US", Some("AK"), None, Region::Wnam),
            ("US", Some("PR"), None, Region::Enam),
            ("US", Some("GU"), None, Region::Oc),
            // Subdivision wins over longitude.
            ("US", Some("FL"), Some(-118.0), Region::Enam),
            // Unknown subdivision: longitude decides.
            ("US", Some("XX"), Some(-118.24), Region::Wnam),
            ("US", Some("CA-TX"), Some(-74.0), Region::Enam),
            ("US", None, Some(-87.6), Region::Enam),
            ("US", None, Some(-93.3), Region::Wnam),
            // Nothing usable: the country default.
            ("US", None, None, Region::Enam),
            ("US", None, Some(f64::NAN), Region::Enam),
            ("US", Some(""), Some(400.0), Region::Enam),
            ("CA", Some("QC"), None, Region::Enam),
            ("CA", Some("Québec"), None, Region::Enam),
            ("CA", Some("ON"), None, Region::Enam),
            ("CA", Some("MB"), None, Region::Wnam),
            ("CA", Some("CA-BC"), None, Region::Wnam),
            ("CA", Some("British Columbia"), None, Region::Wnam),
            ("CA", None, Some(-97.1), Region::Wnam),
            ("CA", None, Some(-79.4), Region::Enam),
            ("CA", None, None, Region::Enam),
            // Other countries ignore subdivision and longitude.
            ("DE", Some("TX"), Some(-100.0), Region::Weu),
            ("MX", Some("BC"), Some(-117.0), Region::Wnam),
            ("BR", None, Some(-60.0), Region::Ssam),
        ];
        for &(country, sub, lon, want) in cases {
            assert_eq!(
                Region::of_place(cc(country), sub, lon),
                want,
                "{country} {sub:?} {lon:?}"
            );
        }
    }

    #[test]
    fn subdivision_tables_are_complete() {
        // 50 states + DC + 6 outlying areas; 10 provinces + 3 territories.
        assert_eq!(US_STATES.len(), 57);
        assert_eq!(CA_PROVINCES.len(), 13);
        for table in [US_STATES, CA_PROVINCES] {
            for (i, (code, names, _)) in table.iter().enumerate() {
                assert_eq!(code.len(), 2);
                assert!(!names.is_empty());
                assert!(table[..i].iter().all(|(c, _, _)| c != code), "{code} twice");
            }
        }
        let wnam = US_STATES.iter().filter(|s| s.2 == Region::Wnam).count();
        assert_eq!(wnam, 24, "AK, HI and the 22 states west of the Mississippi");
    }
}
