//! The API token as the CLI holds it: a string that never prints itself.
//!
//! `Debug` and `Display` show only the masked form (`hkr_…a3f`), so a token cannot leak through a
//! log line, an error message or `{:?}`. The full value leaves this type only through
//! [`Token::expose`], which is called when handing it to the SDK and when saving the config file.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A bearer token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// Wraps a token, trimming surrounding whitespace (a pasted newline, say).
    pub fn new(token: impl Into<String>) -> Self {
        let token = token.into();
        let trimmed = token.trim();
        if trimmed.len() == token.len() {
            Self(token)
        } else {
            Self(trimmed.to_string())
        }
    }

    /// The full token, for the SDK and the config file only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the token is empty (after trimming).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `hkr_…a3f`: the `hkr_` prefix when present and the last characters (at most 4, at most a
    /// quarter of the token), enough to tell tokens apart and never enough to use one.
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        let tail_len = (chars.len() / 4).min(4);
        let tail: String = chars[chars.len() - tail_len..].iter().collect();
        let head = if self.0.starts_with("hkr_") && chars.len() >= 8 {
            "hkr_"
        } else {
            ""
        };
        format!("{head}…{tail}")
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Token({})", self.masked())
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_live_tokens() {
        let token = Token::new("hkr_live_a3f9c2b0e4d5a3f");
        assert_eq!(token.masked(), "hkr_…5a3f");
        assert_eq!(format!("{token}"), token.masked());
        assert_eq!(format!("{token:?}"), format!("Token({})", token.masked()));
    }

    #[test]
    fn short_tokens_reveal_little() {
        assert_eq!(Token::new("hkr_test_pro").masked(), "hkr_…pro");
        assert_eq!(Token::new("abc").masked(), "…");
        assert_eq!(Token::new("").masked(), "…");
    }

    #[test]
    fn trims_pasted_whitespace() {
        assert_eq!(Token::new("  hkr_x\n").expose(), "hkr_x");
        assert!(Token::new(" \n").is_empty());
    }
}
