//! Great-circle distance for proximity steering.

/// The Earth's mean radius (IUGG), in kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// The great-circle distance in kilometres between two (latitude, longitude) points in
/// degrees, by the haversine formula on a sphere of [`EARTH_RADIUS_KM`].
///
/// Accurate to about 0.5 % (the Earth is not a sphere), which is plenty to rank pools.
/// Costs a few tens of nanoseconds (four trigonometric calls and a square root).
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let s_lat = ((lat2 - lat1) / 2.0).sin();
    let s_lon = ((lon2 - lon1) / 2.0).sin();
    let h = s_lat * s_lat + lat1.cos() * lat2.cos() * s_lon * s_lon;
    2.0 * EARTH_RADIUS_KM * h.clamp(0.0, 1.0).sqrt().asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_distances() {
        // (a, b, km, tolerance km)
        let cases = [
            ((0.0, 0.0), (0.0, 0.0), 0.0, 1e-9),
            // A quarter and half of the equator.
            ((0.0, 0.0), (0.0, 90.0), 10_007.5, 1.0),
            ((0.0, 0.0), (0.0, 180.0), 20_015.1, 1.0),
            // Pole to pole.
            ((90.0, 0.0), (-90.0, 0.0), 20_015.1, 1.0),
            // Across the antimeridian: 179° E to 179° W is 2° of longitude.
            ((0.0, 179.0), (0.0, -179.0), 222.4, 1.0),
            // London Heathrow – New York JFK, about 5,540 km.
            ((51.4700, -0.4543), (40.6413, -73.7781), 5_540.0, 15.0),
            // Sydney – Tokyo, about 7,820 km.
            ((-33.8688, 151.2093), (35.6895, 139.6917), 7_820.0, 30.0),
            // Frankfurt – Paris, about 480 km.
            ((50.1109, 8.6821), (48.8566, 2.3522), 479.0, 5.0),
        ];
        for (a, b, km, tol) in cases {
            let d = haversine_km(a, b);
            assert!((d - km).abs() <= tol, "{a:?} {b:?}: {d} km, want {km}");
            // Symmetric.
            assert!((haversine_km(b, a) - d).abs() < 1e-6);
        }
    }

    #[test]
    fn antipodes_do_not_produce_nan() {
        let d = haversine_km((45.0, 10.0), (-45.0, -170.0));
        assert!(d.is_finite());
        assert!((d - 20_015.1).abs() < 1.0, "{d}");
    }
}
