//! Label selectors (`?labelSelector=app=web,env in (a,b),!legacy`): parsing and matching.
//!
//! No crate parses the selector *string* the way the apiserver does, and learners do meet its
//! error messages (`kubectl get pods -l 'app==='`), so the grammar is reproduced here: a
//! comma-separated list of requirements, all of which must hold (an AND; there is no OR).

use super::label_syntax::{key_errors, value_errors};
use super::lexer::{tokenize, Token, TokenKind};
use super::Labels;

/// How a requirement compares a label with its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelOp {
    /// `key=value` or `key==value`
    Equals,
    /// `key!=value`: also true when the key is absent.
    NotEquals,
    In,
    /// Also true when the key is absent.
    NotIn,
    /// A bare `key`.
    Exists,
    /// `!key`
    DoesNotExist,
    /// `key>3` (integers only)
    GreaterThan,
    /// `key<3`
    LessThan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Requirement {
    pub key: String,
    pub op: LabelOp,
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            LabelOp::Equals | LabelOp::In => value.is_some_and(|v| self.values.contains(v)),
            LabelOp::NotEquals | LabelOp::NotIn => !value.is_some_and(|v| self.values.contains(v)),
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
            LabelOp::GreaterThan | LabelOp::LessThan => {
                let (Some(have), Some(want)) =
                    (value.and_then(|v| v.parse::<i64>().ok()), self.values.first().and_then(|v| v.parse::<i64>().ok()))
                else {
                    return false;
                };
                if self.op == LabelOp::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }

    /// The checks the apiserver's `NewRequirement` makes once a requirement is parsed.
    fn validate(&self) -> Result<(), String> {
        let mut errs: Vec<String> = Vec::new();
        let key_problems = key_errors(&self.key);
        if !key_problems.is_empty() {
            errs.push(format!("key: Invalid value: {:?}: {}", self.key, key_problems.join("; ")));
        }
        match self.op {
            LabelOp::In | LabelOp::NotIn if self.values.is_empty() => {
                errs.push("values: Invalid value: null: for 'in', 'notin' operators, values set can't be empty".into())
            }
            LabelOp::Equals | LabelOp::NotEquals if self.values.len() != 1 => {
                errs.push(format!("values: Invalid value: {:?}: exact-match compatibility requires one single value", self.values))
            }
            LabelOp::GreaterThan | LabelOp::LessThan => {
                if self.values.len() != 1 {
                    errs.push(format!("values: Invalid value: {:?}: for 'Gt', 'Lt' operators, exactly one value is required", self.values));
                }
                for (i, v) in self.values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(format!("values[{i}]: Invalid value: {v:?}: for 'Gt', 'Lt' operators, the value must be an integer"));
                    }
                }
            }
            _ => {}
        }
        if !matches!(self.op, LabelOp::GreaterThan | LabelOp::LessThan) {
            for (i, v) in self.values.iter().enumerate() {
                let problems = value_errors(v);
                if !problems.is_empty() {
                    errs.push(format!("values[{i}][{}]: Invalid value: {v:?}: {}", self.key, problems.join("; ")));
                }
            }
        }
        match errs.len() {
            0 => Ok(()),
            1 => Err(errs.remove(0)),
            _ => Err(format!("[{}]", errs.join(", "))),
        }
    }
}

/// A parsed label selector: every requirement must match. Empty selects everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// Parses `app=web,env in (a,b),!x`; the error is the apiserver's message for a 400.
    pub fn parse(s: &str) -> Result<Self, String> {
        Parser { tokens: tokenize(s), pos: 0 }.parse().map(|requirements| Self { requirements })
    }
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

/// Where the parser is: keywords (`in`, `notin`) only count as operators right after a key;
/// anywhere else they are plain identifiers (a label may well be called `in`).
#[derive(Clone, Copy, PartialEq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn lookahead(&self, ctx: Context) -> (TokenKind, String) {
        let t = &self.tokens[self.pos.min(self.tokens.len() - 1)];
        let kind = match (ctx, t.kind) {
            (Context::Values, TokenKind::In | TokenKind::NotIn) => TokenKind::Identifier,
            (_, k) => k,
        };
        (kind, t.literal.clone())
    }

    fn consume(&mut self, ctx: Context) -> (TokenKind, String) {
        let t = self.lookahead(ctx);
        if self.pos < self.tokens.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, String> {
        let mut out = Vec::new();
        loop {
            let (kind, literal) = self.lookahead(Context::Values);
            match kind {
                TokenKind::Identifier | TokenKind::Bang => {
                    let r = self.requirement().map_err(|e| format!("unable to parse requirement: {e}"))?;
                    out.push(r);
                    let (kind, literal) = self.consume(Context::Values);
                    match kind {
                        TokenKind::EndOfString => return Ok(out),
                        TokenKind::Comma => {
                            let (next, next_literal) = self.lookahead(Context::Values);
                            if next != TokenKind::Identifier && next != TokenKind::Bang {
                                return Err(format!("found '{next_literal}', expected: identifier after ','"));
                            }
                        }
                        _ => return Err(format!("found '{literal}', expected: ',' or 'end of string'")),
                    }
                }
                TokenKind::EndOfString => return Ok(out),
                _ => return Err(format!("found '{literal}', expected: !, identifier, or 'end of string'")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, inferred) = self.key_and_inferred_operator()?;
        if let Some(op) = inferred {
            let r = Requirement { key, op, values: vec![] };
            r.validate()?;
            return Ok(r);
        }
        let op = self.operator()?;
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.value_list()?,
            _ => self.exact_value()?,
        };
        let r = Requirement { key, op, values };
        r.validate()?;
        Ok(r)
    }

    /// The key, and the operator when the key stands alone (`key` or `!key`).
    fn key_and_inferred_operator(&mut self) -> Result<(String, Option<LabelOp>), String> {
        let (mut kind, mut literal) = self.consume(Context::Values);
        let negated = kind == TokenKind::Bang;
        if negated {
            (kind, literal) = self.consume(Context::Values);
        }
        if kind != TokenKind::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        let problems = key_errors(&literal);
        if !problems.is_empty() {
            return Err(format!("key: Invalid value: {literal:?}: {}", problems.join("; ")));
        }
        let (next, _) = self.lookahead(Context::Values);
        let stands_alone = matches!(next, TokenKind::EndOfString | TokenKind::Comma);
        let op = match (negated, stands_alone) {
            (true, _) => Some(LabelOp::DoesNotExist),
            (false, true) => Some(LabelOp::Exists),
            (false, false) => None,
        };
        Ok((literal, op))
    }

    fn operator(&mut self) -> Result<LabelOp, String> {
        let (kind, literal) = self.consume(Context::KeyAndOperator);
        Ok(match kind {
            TokenKind::Equals | TokenKind::DoubleEquals => LabelOp::Equals,
            TokenKind::NotEquals => LabelOp::NotEquals,
            TokenKind::In => LabelOp::In,
            TokenKind::NotIn => LabelOp::NotIn,
            TokenKind::GreaterThan => LabelOp::GreaterThan,
            TokenKind::LessThan => LabelOp::LessThan,
            _ => return Err(format!("found '{literal}', expected: in, notin, =, ==, !=, gt, lt")),
        })
    }

    /// The single value after `=`, `==`, `!=`, `>`, `<`; nothing at all means `""`.
    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (next, _) = self.lookahead(Context::Values);
        if matches!(next, TokenKind::EndOfString | TokenKind::Comma) {
            return Ok(vec![String::new()]);
        }
        match self.consume(Context::Values) {
            (TokenKind::Identifier, literal) => Ok(vec![literal]),
            (_, literal) => Err(format!("found '{literal}', expected: identifier")),
        }
    }

    /// `(a, b, c)` after `in` / `notin`; empty items are empty values.
    fn value_list(&mut self) -> Result<Vec<String>, String> {
        let (kind, literal) = self.consume(Context::Values);
        if kind != TokenKind::OpenParen {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (next, literal) = self.lookahead(Context::Values);
        match next {
            TokenKind::Identifier | TokenKind::Comma => {
                let values = self.identifiers()?;
                let (kind, literal) = self.consume(Context::Values);
                if kind != TokenKind::CloseParen {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            TokenKind::CloseParen => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!("found '{literal}', expected: ',', ')' or identifier")),
        }
    }

    fn identifiers(&mut self) -> Result<Vec<String>, String> {
        let mut values: Vec<String> = Vec::new();
        let push = |values: &mut Vec<String>, v: String| {
            if !values.contains(&v) {
                values.push(v)
            }
        };
        loop {
            let (kind, literal) = self.consume(Context::Values);
            match kind {
                TokenKind::Identifier => {
                    push(&mut values, literal);
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        TokenKind::Comma => continue,
                        TokenKind::CloseParen => return Ok(values),
                        _ => return Err(format!("found '{next_literal}', expected: ',' or ')'")),
                    }
                }
                TokenKind::Comma => {
                    // `(,a)` or `(a,,b)`: an empty value before this comma.
                    if values.is_empty() || self.tokens[self.pos.saturating_sub(2)].kind == TokenKind::Comma {
                        push(&mut values, String::new());
                    }
                    let (next, next_literal) = self.lookahead(Context::Values);
                    match next {
                        TokenKind::CloseParen => {
                            push(&mut values, String::new());
                            return Ok(values);
                        }
                        TokenKind::Comma | TokenKind::Identifier => continue,
                        _ => return Err(format!("found '{next_literal}', expected: ',' or ')'")),
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',' or identifier")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    /// The three pods of p12-selectors: s1 {app=web, env=prod}, s2 {app=web, env=dev}, s3 {app=db}.
    fn p12_pods() -> Vec<(&'static str, Labels)> {
        vec![
            ("s1", labels(&[("app", "web"), ("env", "prod")])),
            ("s2", labels(&[("app", "web"), ("env", "dev")])),
            ("s3", labels(&[("app", "db")])),
        ]
    }

    fn selected(selector: &str) -> Vec<&'static str> {
        let s = LabelSelector::parse(selector).unwrap();
        p12_pods().into_iter().filter(|(_, l)| s.matches(l)).map(|(n, _)| n).collect()
    }

    #[test]
    fn p12_selectors_select_what_the_apiserver_selected() {
        assert_eq!(selected("app=web"), ["s1", "s2"]);
        assert_eq!(selected("app!=web"), ["s3"]);
        assert_eq!(selected("env in (prod,qa)"), ["s1"]);
        assert_eq!(selected("env notin (prod)"), ["s2", "s3"]);
        assert_eq!(selected("env"), ["s1", "s2"]);
        assert_eq!(selected("!env"), ["s3"]);
        assert_eq!(selected("app=web,env=dev"), ["s2"]);
        assert_eq!(selected("app==web"), ["s1", "s2"]);
        assert_eq!(selected(""), ["s1", "s2", "s3"]);
    }

    #[test]
    fn p10_bad_labelselector_message() {
        assert_eq!(LabelSelector::parse("app===x,").unwrap_err(), "unable to parse requirement: found '=', expected: identifier");
    }

    #[test]
    fn other_syntax_errors() {
        assert_eq!(LabelSelector::parse("app=web,").unwrap_err(), "found '', expected: identifier after ','");
        assert_eq!(LabelSelector::parse("env in prod").unwrap_err(), "unable to parse requirement: found 'prod' expected: '('");
        assert_eq!(LabelSelector::parse("env in (a b)").unwrap_err(), "unable to parse requirement: found 'b', expected: ',' or ')'");
        assert_eq!(
            LabelSelector::parse("a b").unwrap_err(),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(LabelSelector::parse(")").unwrap_err(), "found ')', expected: !, identifier, or 'end of string'");
        assert!(LabelSelector::parse("env=has space").is_err());
        assert!(LabelSelector::parse("x>abc").unwrap_err().contains("must be an integer"));
    }

    #[test]
    fn empty_value_and_keyword_named_keys() {
        let s = LabelSelector::parse("tier=").unwrap();
        assert!(s.matches(&labels(&[("tier", "")])));
        assert!(!s.matches(&labels(&[])));
        let s = LabelSelector::parse("in in (notin)").unwrap();
        assert!(s.matches(&labels(&[("in", "notin")])));
        let s = LabelSelector::parse("env in (,a)").unwrap();
        assert_eq!(s.requirements[0].values, ["", "a"]);
    }

    #[test]
    fn numeric_comparisons() {
        let s = LabelSelector::parse("gen>3").unwrap();
        assert!(s.matches(&labels(&[("gen", "4")])));
        assert!(!s.matches(&labels(&[("gen", "3")])));
        assert!(!s.matches(&labels(&[])));
    }
}
