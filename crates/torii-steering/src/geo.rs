//! Distances on Earth for proximity steering.

/// Mean Earth radius in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in kilometres between two `(latitude, longitude)` points in degrees
/// (the haversine formula).
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// Whether `(latitude, longitude)` is a valid point in degrees.
pub(crate) fn valid(point: (f64, f64)) -> bool {
    point.0.is_finite()
        && point.1.is_finite()
        && (-90.0..=90.0).contains(&point.0)
        && (-180.0..=180.0).contains(&point.1)
}

/// The point as a unit vector. Great-circle distance falls as the dot product of two unit
/// vectors rises, so the nearest pool is the one with the largest dot product: one trigonometric
/// evaluation per request instead of one per pool.
pub(crate) fn unit_vector(point: (f64, f64)) -> [f64; 3] {
    let (lat, lon) = (point.0.to_radians(), point.1.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// The dot product of two vectors.
#[inline]
pub(crate) fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: (f64, f64) = (48.8566, 2.3522);
    const LONDON: (f64, f64) = (51.5074, -0.1278);
    const NEW_YORK: (f64, f64) = (40.7128, -74.0060);
    const SYDNEY: (f64, f64) = (-33.8688, 151.2093);

    #[test]
    fn haversine_knows_some_distances() {
        let d = haversine_km(PARIS, LONDON);
        assert!((d - 344.0).abs() < 3.0, "{d}");
        let d = haversine_km(LONDON, NEW_YORK);
        assert!((d - 5570.0).abs() < 15.0, "{d}");
        assert!(haversine_km(PARIS, PARIS).abs() < 1e-9);
    }

    #[test]
    fn dot_product_orders_like_haversine() {
        let places = [PARIS, LONDON, NEW_YORK, SYDNEY, (0.0, 179.9), (0.0, -179.9)];
        for from in places {
            let v = unit_vector(from);
            let mut by_distance = places;
            by_distance.sort_by(|a, b| haversine_km(from, *a).total_cmp(&haversine_km(from, *b)));
            let mut by_dot = places;
            by_dot.sort_by(|a, b| dot(&v, &unit_vector(*b)).total_cmp(&dot(&v, &unit_vector(*a))));
            assert_eq!(by_distance, by_dot, "from {from:?}");
        }
    }
}
