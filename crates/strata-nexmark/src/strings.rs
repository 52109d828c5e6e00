//! Random strings as the reference generator makes them: lower-case words with spaces,
//! exact-length padding, and the `extra` field that brings an event to its average size.

use rand::Rng;

/// Shortest random string.
const MIN_STRING_LENGTH: usize = 3;

/// US states persons live in (few, so that q3's filter finds matches on small inputs).
pub const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
/// US cities persons live in.
pub const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
/// First names.
pub const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
/// Last names.
pub const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

/// A string of 3 to `max_len - 1` characters, letters with the odd space, trimmed.
pub fn next_string(rng: &mut impl Rng, max_len: usize, out: &mut String) {
    out.clear();
    let len = MIN_STRING_LENGTH + rng.random_range(0..max_len - MIN_STRING_LENGTH);
    for _ in 0..len {
        if rng.random_range(0..13) == 0 {
            out.push(' ');
        } else {
            out.push(char::from(b'a' + rng.random_range(0..26u8)));
        }
    }
    let trimmed = out.trim();
    if trimmed.len() != out.len() {
        *out = trimmed.to_owned();
    }
}

/// Exactly `len` random letters (five letters per 32-bit draw, like the reference's
/// base-26 digits of one `nextInt`).
pub fn next_exact_string(rng: &mut impl Rng, len: usize, out: &mut String) {
    out.clear();
    out.reserve(len);
    let mut bits = 0u32;
    let mut left = 0;
    for _ in 0..len {
        if left == 0 {
            bits = rng.random();
            left = 6;
        }
        out.push(char::from(b'a' + (bits % 26) as u8));
        bits /= 26;
        left -= 1;
    }
}

/// Padding such that `current + padding` is `average` bytes on average (±20 %); empty when
/// the event is already at least that big.
pub fn next_extra(rng: &mut impl Rng, current: usize, average: usize, out: &mut String) {
    out.clear();
    if current > average {
        return;
    }
    let wanted = average - current;
    let delta = (wanted as f64 * 0.2).round() as usize;
    let min = wanted - delta;
    let size = if delta == 0 {
        min
    } else {
        min + rng.random_range(0..2 * delta)
    };
    next_exact_string(rng, size, out);
}

/// A price in cents: log-uniform between 1 and 10^6 dollars.
pub fn next_price(rng: &mut impl Rng) -> i64 {
    (10f64.powf(rng.random::<f64>() * 6.0) * 100.0).round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn strings_have_the_promised_shapes() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut s = String::new();
        for _ in 0..1000 {
            next_string(&mut rng, 20, &mut s);
            assert!(s.len() < 20 && !s.starts_with(' ') && !s.ends_with(' '));
            assert!(s.bytes().all(|b| b == b' ' || b.is_ascii_lowercase()));
            next_exact_string(&mut rng, 37, &mut s);
            assert_eq!(s.len(), 37);
            next_extra(&mut rng, 32, 100, &mut s);
            assert!((54..=82).contains(&s.len()), "{}", s.len());
            let p = next_price(&mut rng);
            assert!((100..=100_000_000).contains(&p));
        }
        next_extra(&mut rng, 300, 100, &mut s);
        assert!(s.is_empty());
    }
}
