//! Master-file scanner (RFC 1035 §5.1): splits a zone file into logical entries of tokens.
//!
//! An entry is one record or directive. Parentheses join physical lines, `;` starts a
//! comment, quotes group text with blanks, and a backslash escapes the next character.
//! Tokens keep their source text (quotes and escapes included) so that the record-data
//! parsers see exactly what the operator wrote; `line` is where the entry starts, for
//! `file:line` errors.

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Source text, with quotes and escapes as written.
    pub raw: String,
    pub quoted: bool,
}

impl Token {
    /// The text for keyword comparisons ($TTL, IN, record types...).
    pub fn text(&self) -> &str {
        &self.raw
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub line: usize,
    /// The entry began with a blank: its owner is the previous entry's owner.
    pub starts_with_blank: bool,
    pub tokens: Vec<Token>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub line: usize,
    pub message: String,
}

/// Every entry of `text`, or the first error.
pub fn entries(text: &str) -> Result<Vec<Entry>, LexError> {
    scan(text).collect()
}

/// The entries of `text` one at a time, so that a large zone file is never held as
/// tokens all at once. Ends after the first error.
pub fn scan(text: &str) -> Scanner<'_> {
    Scanner {
        chars: text.chars().peekable(),
        line: 1,
        current: None,
        paren_depth: 0,
        paren_line: 0,
        at_line_start: true,
        done: false,
    }
}

pub struct Scanner<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: usize,
    current: Option<Entry>,
    paren_depth: usize,
    paren_line: usize,
    at_line_start: bool,
    done: bool,
}

impl Iterator for Scanner<'_> {
    type Item = Result<Entry, LexError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.advance();
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}

impl Scanner<'_> {
    fn advance(&mut self) -> Option<Result<Entry, LexError>> {
        let Scanner {
            chars,
            line,
            current,
            paren_depth,
            paren_line,
            at_line_start,
            ..
        } = self;
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    *line += 1;
                    *at_line_start = true;
                    if *paren_depth == 0 {
                        if let Some(e) = current.take() {
                            if !e.tokens.is_empty() {
                                return Some(Ok(e));
                            }
                        }
                    }
                    continue;
                }
                ';' => {
                    while let Some(&n) = chars.peek() {
                        if n == '\n' {
                            break;
                        }
                        chars.next();
                    }
                    continue;
                }
                ' ' | '\t' | '\r' => {
                    if *at_line_start && *paren_depth == 0 && current.is_none() {
                        *current = Some(Entry {
                            line: *line,
                            starts_with_blank: true,
                            tokens: Vec::new(),
                        });
                    }
                    *at_line_start = false;
                    continue;
                }
                _ => {}
            }
            *at_line_start = false;
            let line = *line;
            let entry = current.get_or_insert_with(|| Entry {
                line,
                starts_with_blank: false,
                tokens: Vec::new(),
            });
            match c {
                '(' => {
                    if *paren_depth == 0 {
                        *paren_line = line;
                    }
                    *paren_depth += 1;
                }
                ')' => {
                    if *paren_depth == 0 {
                        return Some(Err(LexError {
                            line,
                            message: "')' without a matching '('".into(),
                        }));
                    }
                    *paren_depth -= 1;
                }
                '"' => {
                    let start_line = line;
                    let mut raw = String::from('"');
                    loop {
                        match chars.next() {
                            None | Some('\n') => {
                                return Some(Err(LexError {
                                    line: start_line,
                                    message: "unterminated quoted string".into(),
                                }))
                            }
                            Some('\\') => {
                                raw.push('\\');
                                match chars.next() {
                                    Some('\n') | None => {
                                        return Some(Err(LexError {
                                            line: start_line,
                                            message: "unterminated quoted string".into(),
                                        }))
                                    }
                                    Some(e) => raw.push(e),
                                }
                            }
                            Some('"') => {
                                raw.push('"');
                                break;
                            }
                            Some(o) => raw.push(o),
                        }
                    }
                    entry.tokens.push(Token { raw, quoted: true });
                }
                _ => {
                    let mut raw = String::new();
                    let mut c = c;
                    loop {
                        raw.push(c);
                        if c == '\\' {
                            match chars.next() {
                                Some('\n') | None => {
                                    return Some(Err(LexError {
                                        line,
                                        message: "a backslash at the end of a line".into(),
                                    }))
                                }
                                Some(e) => raw.push(e),
                            }
                        }
                        match chars.peek() {
                            Some(&n)
                                if !matches!(
                                    n,
                                    ' ' | '\t' | '\r' | '\n' | ';' | '(' | ')' | '"'
                                ) =>
                            {
                                c = n;
                                chars.next();
                            }
                            _ => break,
                        }
                    }
                    entry.tokens.push(Token { raw, quoted: false });
                }
            }
        }
        if *paren_depth > 0 {
            return Some(Err(LexError {
                line: *paren_line,
                message: "'(' is never closed".into(),
            }));
        }
        current.take().filter(|e| !e.tokens.is_empty()).map(Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(e: &Entry) -> Vec<&str> {
        e.tokens.iter().map(|t| t.raw.as_str()).collect()
    }

    #[test]
    fn joins_parentheses_and_drops_comments() {
        let src =
            "@ IN SOA ns1 host ( 1 ; serial\n 7200\n 900 1209600 300 )\nwww A 192.0.2.1 ; c\n";
        let e = entries(src).unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].line, 1);
        assert_eq!(
            texts(&e[0]),
            ["@", "IN", "SOA", "ns1", "host", "1", "7200", "900", "1209600", "300"]
        );
        assert_eq!(e[1].line, 4);
    }

    #[test]
    fn blank_start_and_quotes() {
        let src = "a TXT \"x ; y\"\n  TXT \"q\\\"r\" s\\ t\n";
        let e = entries(src).unwrap();
        assert!(!e[0].starts_with_blank);
        assert_eq!(texts(&e[0]), ["a", "TXT", "\"x ; y\""]);
        assert!(e[1].starts_with_blank);
        assert_eq!(texts(&e[1]), ["TXT", "\"q\\\"r\"", "s\\ t"]);
    }

    #[test]
    fn errors_carry_lines() {
        assert_eq!(entries("a A 1\nb TXT \"open\n").unwrap_err().line, 2);
        assert_eq!(entries("a A 1\n\nb SOA ( 1\n 2\n").unwrap_err().line, 3);
        assert_eq!(entries("x ) y").unwrap_err().line, 1);
    }
}
