//! A cursor over command-line words, with iproute2's habits: keywords may be
//! abbreviated only where `ip` allows it (we do not), values follow keywords.

use std::fmt::Display;
use std::str::FromStr;

/// A usage error: printed with the command's usage, exit status 1.
#[derive(Debug)]
pub struct Usage(pub String);

pub type Res<T> = Result<T, Box<dyn std::error::Error>>;

impl std::fmt::Display for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

pub fn usage<T>(msg: impl Into<String>) -> Res<T> {
    Err(Box::new(Usage(msg.into())))
}

pub struct Args {
    words: Vec<String>,
    pos: usize,
}

impl Args {
    pub fn new(words: Vec<String>) -> Self {
        Args { words, pos: 0 }
    }

    pub fn peek(&self) -> Option<&str> {
        self.words.get(self.pos).map(String::as_str)
    }

    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<String> {
        let w = self.words.get(self.pos).cloned();
        if w.is_some() {
            self.pos += 1;
        }
        w
    }

    /// The value after keyword `what`.
    pub fn value(&mut self, what: &str) -> Res<String> {
        match self.next() {
            Some(v) => Ok(v),
            None => usage(format!("\"{what}\" needs a value")),
        }
    }

    /// The value after keyword `what`, parsed.
    pub fn parsed<T>(&mut self, what: &str) -> Res<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let v = self.value(what)?;
        v.parse::<T>()
            .map_err(|e| Box::new(Usage(format!("invalid value \"{v}\" for \"{what}\": {e}"))) as _)
    }

    /// Consume `word` if it is next.
    pub fn eat(&mut self, word: &str) -> bool {
        if self.peek() == Some(word) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub fn rest(&mut self) -> Vec<String> {
        let r = self.words[self.pos..].to_vec();
        self.pos = self.words.len();
        r
    }

    /// Fail on leftover words.
    pub fn done(&self) -> Res<()> {
        match self.peek() {
            None => Ok(()),
            Some(w) => usage(format!("unexpected argument \"{w}\"")),
        }
    }
}
