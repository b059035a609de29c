//! Tokens of a label selector string.
//!
//! The apiserver lexes `app=web,env in (a,b),!x` before parsing it, and its error messages
//! quote the offending token's literal text ("found '=', expected: identifier"). Keeping the
//! literal of every token lets the parser say exactly the same thing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Identifier,
    /// `=`
    Equals,
    /// `==`
    DoubleEquals,
    /// `!=`
    NotEquals,
    /// A lone `!`: "the key does not exist".
    Bang,
    /// `>`
    GreaterThan,
    /// `<`
    LessThan,
    In,
    NotIn,
    OpenParen,
    CloseParen,
    Comma,
    EndOfString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub kind: TokenKind,
    pub literal: String,
}

/// Characters that end an identifier and start an operator or punctuation.
fn is_special(c: char) -> bool {
    matches!(c, '=' | '!' | '(' | ')' | ',' | '>' | '<')
}

/// The operators made of special characters, longest first for greedy matching.
const OPERATORS: &[(&str, TokenKind)] = &[
    ("==", TokenKind::DoubleEquals),
    ("!=", TokenKind::NotEquals),
    ("=", TokenKind::Equals),
    ("!", TokenKind::Bang),
    (">", TokenKind::GreaterThan),
    ("<", TokenKind::LessThan),
    ("(", TokenKind::OpenParen),
    (")", TokenKind::CloseParen),
    (",", TokenKind::Comma),
];

/// Splits `input` into tokens, ending with one `EndOfString` token.
///
/// Special characters are read greedily as long as they still form a known operator, so
/// `===` is `==` followed by `=` — which is why `app===x` complains about a `=`.
pub fn tokenize(input: &str) -> Vec<Token> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if is_special(c) {
            let rest: String = chars[i..chars.len().min(i + 2)].iter().collect();
            let (op, kind) = OPERATORS.iter().find(|(op, _)| rest.starts_with(op)).copied().unwrap_or(("!", TokenKind::Bang));
            out.push(Token { kind, literal: op.to_string() });
            i += op.chars().count();
            continue;
        }
        let start = i;
        while i < chars.len() && !chars[i].is_whitespace() && !is_special(chars[i]) {
            i += 1;
        }
        let literal: String = chars[start..i].iter().collect();
        let kind = match literal.as_str() {
            "in" => TokenKind::In,
            "notin" => TokenKind::NotIn,
            _ => TokenKind::Identifier,
        };
        out.push(Token { kind, literal });
    }
    out.push(Token { kind: TokenKind::EndOfString, literal: String::new() });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(s: &str) -> Vec<TokenKind> {
        tokenize(s).into_iter().map(|t| t.kind).collect()
    }

    #[test]
    fn triple_equals_is_double_then_single() {
        use TokenKind::*;
        assert_eq!(kinds("app===x,"), vec![Identifier, DoubleEquals, Equals, Identifier, Comma, EndOfString]);
    }

    #[test]
    fn keywords_and_parens() {
        use TokenKind::*;
        assert_eq!(kinds("env notin (a, b)"), vec![Identifier, NotIn, OpenParen, Identifier, Comma, Identifier, CloseParen, EndOfString]);
        assert_eq!(kinds("!x,y!=z"), vec![Bang, Identifier, Comma, Identifier, NotEquals, Identifier, EndOfString]);
    }
}
