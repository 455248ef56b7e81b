//! Positions on the Earth: where regions and geoproximity sets are, where GeoIP puts a
//! client, and the distance between two of them.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    pub lat: f64,
    pub lon: f64,
}

impl Coordinates {
    pub fn is_valid(&self) -> bool {
        (-90.0..=90.0).contains(&self.lat) && (-180.0..=180.0).contains(&self.lon)
    }

    /// Haversine distance on a spherical Earth.
    pub fn km_to(self, b: Coordinates) -> f64 {
        const EARTH_RADIUS_KM: f64 = 6371.0;
        let (la1, la2) = (self.lat.to_radians(), b.lat.to_radians());
        let dlat = la2 - la1;
        let dlon = (b.lon - self.lon).to_radians();
        let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dublin_to_paris() {
        let dublin = Coordinates {
            lat: 53.35,
            lon: -6.26,
        };
        let paris = Coordinates {
            lat: 48.86,
            lon: 2.35,
        };
        let d = dublin.km_to(paris);
        assert!((d - 780.0).abs() < 15.0, "{d}");
    }
}
