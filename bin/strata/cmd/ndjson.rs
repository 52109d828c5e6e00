//! The lines of an NDJSON answer as they arrive (a continuous query's rows, a follow
//! stream's records, a batch run's progress): the one reader every streaming command uses.

use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::{Failure, Result};

/// A streamed body, cut into lines.
pub struct Lines {
    body: Incoming,
    pending: Vec<u8>,
}

impl Lines {
    /// The lines of `body`.
    pub fn new(body: Incoming) -> Self {
        Lines {
            body,
            pending: Vec::new(),
        }
    }

    /// Whether a whole line has arrived and not been taken yet.
    pub fn has_line(&self) -> bool {
        self.pending.contains(&b'\n')
    }

    /// The next line without its line break (`\n` or `\r\n`); `None` when the body ends. A
    /// future of it dropped halfway (e.g. by Ctrl-C in a `select!`) loses nothing.
    ///
    /// # Errors
    /// The body broke off.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=nl).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(line));
            }
            let Some(frame) = self.body.frame().await else {
                // A last line without its line break is still a line.
                return Ok((!self.pending.is_empty()).then(|| std::mem::take(&mut self.pending)));
            };
            let frame =
                frame.map_err(|e| Failure(format!("the stream from the node broke off: {e}")))?;
            if let Ok(data) = frame.into_data() {
                self.pending.extend_from_slice(&data);
            }
        }
    }
}
