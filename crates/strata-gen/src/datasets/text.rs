//! Lines of text: sentences of 3–12 words drawn by Zipf's law from a fixed vocabulary,
//! capitalised, with commas and a full stop — what a word count has to tokenize.

use rand::Rng;
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand_chacha::ChaCha8Rng;

use crate::words::WORDS;
use crate::{Clock, Payload, Source};

pub(crate) struct Text {
    zipf: Option<WeightedIndex<f64>>,
}

impl Text {
    pub(crate) fn new() -> Self {
        // Weights 1/rank; WeightedIndex only fails on empty or non-positive weights.
        let zipf = WeightedIndex::new((1..=WORDS.len()).map(|r| 1.0 / r as f64)).ok();
        Text { zipf }
    }
}

impl Source for Text {
    fn next(&mut self, rng: &mut ChaCha8Rng, clock: &mut Clock) -> (Option<String>, i64, Payload) {
        let ts = clock.poisson(rng);
        let n = rng.random_range(3..=12);
        let mut line = String::new();
        for i in 0..n {
            let w = match &self.zipf {
                Some(z) => WORDS[z.sample(rng)],
                None => WORDS[rng.random_range(0..WORDS.len())],
            };
            if i > 0 {
                line.push_str(if rng.random_bool(0.08) { ", " } else { " " });
            }
            if i == 0 {
                let mut chars = w.chars();
                if let Some(c) = chars.next() {
                    line.extend(c.to_uppercase());
                    line.push_str(chars.as_str());
                }
            } else {
                line.push_str(w);
            }
        }
        line.push(if rng.random_bool(0.1) { '?' } else { '.' });
        (None, ts, Payload::Text(line))
    }
}
