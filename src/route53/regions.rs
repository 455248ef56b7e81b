//! Where the AWS regions are: the city each one is named for, to a tenth of a degree.
//! Route 53 uses its own coordinates, which AWS does not publish; for latency records a
//! region's place only matters when no latency table says better.

use crate::coordinates::Coordinates;

const REGIONS: &[(&str, f64, f64)] = &[
    ("af-south-1", -33.9, 18.4),
    ("ap-east-1", 22.3, 114.2),
    ("ap-east-2", 25.0, 121.6),
    ("ap-northeast-1", 35.7, 139.7),
    ("ap-northeast-2", 37.6, 127.0),
    ("ap-northeast-3", 34.7, 135.5),
    ("ap-south-1", 19.1, 72.9),
    ("ap-south-2", 17.4, 78.5),
    ("ap-southeast-1", 1.4, 103.8),
    ("ap-southeast-2", -33.9, 151.2),
    ("ap-southeast-3", -6.2, 106.8),
    ("ap-southeast-4", -37.8, 145.0),
    ("ap-southeast-5", 3.1, 101.7),
    ("ap-southeast-6", -36.8, 174.8),
    ("ap-southeast-7", 13.8, 100.5),
    ("ca-central-1", 45.5, -73.6),
    ("ca-west-1", 51.0, -114.1),
    ("cn-north-1", 39.9, 116.4),
    ("cn-northwest-1", 38.5, 106.3),
    ("eu-central-1", 50.1, 8.7),
    ("eu-central-2", 47.4, 8.5),
    ("eu-north-1", 59.3, 18.1),
    ("eu-south-1", 45.5, 9.2),
    ("eu-south-2", 41.6, -0.9),
    ("eu-west-1", 53.3, -6.3),
    ("eu-west-2", 51.5, -0.1),
    ("eu-west-3", 48.9, 2.4),
    ("eusc-de-east-1", 52.4, 13.1),
    ("il-central-1", 32.1, 34.8),
    ("me-central-1", 25.2, 55.3),
    ("me-south-1", 26.1, 50.6),
    ("mx-central-1", 20.6, -100.4),
    ("sa-east-1", -23.5, -46.6),
    ("us-east-1", 39.0, -77.5),
    ("us-east-2", 40.0, -83.0),
    ("us-gov-east-1", 40.0, -83.0),
    ("us-gov-west-1", 45.8, -119.7),
    ("us-west-1", 37.4, -122.0),
    ("us-west-2", 45.8, -119.7),
];

/// Where the AWS region `id` is; None for a name that is not one.
pub fn location(id: &str) -> Option<Coordinates> {
    REGIONS
        .iter()
        .find(|(r, _, _)| *r == id)
        .map(|&(_, lat, lon)| Coordinates { lat, lon })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_sorted_unique_and_on_the_earth() {
        assert!(REGIONS.windows(2).all(|w| w[0].0 < w[1].0));
        for &(id, lat, lon) in REGIONS {
            assert!(Coordinates { lat, lon }.is_valid(), "{id}");
        }
        assert!(location("eu-west-1").is_some());
        assert!(location("eu-west").is_none());
    }
}
