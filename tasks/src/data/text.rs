//! The first book of Cicero's *De finibus* as a character sequence, bundled as
//! `tasks/data/liber_primus.txt`; see `tasks/data/README.md` for origin, licence and
//! normalisation.

use std::sync::{Arc, OnceLock};

/// The normalised text: lower-case letters, spaces and `.,;?`.
const RAW: &str = include_str!("../../data/liber_primus.txt");

/// A text as a sequence of character ids over its own alphabet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharText {
    /// The distinct characters in ascending order; id c stands for `alphabet[c]`.
    pub alphabet: Vec<u8>,
    /// The text, one id per character.
    pub ids: Vec<u8>,
}

impl CharText {
    /// The text `text` over the alphabet of its distinct bytes (at most 256).
    pub fn new(text: &[u8]) -> Self {
        let mut alphabet = text.to_vec();
        alphabet.sort_unstable();
        alphabet.dedup();
        let mut id = [0u8; 256];
        alphabet.iter().enumerate().for_each(|(i, &c)| id[usize::from(c)] = i as u8);
        Self { ids: text.iter().map(|&c| id[usize::from(c)]).collect(), alphabet }
    }

    /// Number V of distinct characters.
    pub fn vocab(&self) -> usize {
        self.alphabet.len()
    }

    /// Length of the text in characters.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// True for an empty text.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The bundled text, decoded once per process and shared.
pub fn liber_primus() -> Arc<CharText> {
    static TEXT: OnceLock<Arc<CharText>> = OnceLock::new();
    TEXT.get_or_init(|| Arc::new(CharText::new(RAW.as_bytes()))).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_index_the_sorted_alphabet() {
        let text = CharText::new(b"abracadabra");
        assert_eq!(text.alphabet, b"abcdr");
        assert_eq!(text.ids, [0, 1, 4, 0, 2, 0, 3, 0, 1, 4, 0]);
    }

    #[test]
    fn the_bundled_text_has_the_exported_alphabet_and_length() {
        let text = liber_primus();
        assert_eq!(text.alphabet, b" ,.;?abcdefghiklmnopqrstuvxyz");
        assert_eq!(text.len(), 48_863);
        assert!(RAW.starts_with("non eram nescius, brute,"));
    }
}
