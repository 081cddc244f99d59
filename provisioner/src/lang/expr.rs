//! The expression language inside `${…}`: AST, lexer and recursive-descent parser, and the template parser
//! for strings with interpolations.
//!
//! Parsing works on the *decoded* TOML string (escapes already applied); every span in the AST is
//! translated back to a byte range of the source file through an offset map, so errors point at the exact
//! column even inside escaped strings. Precedence, loosest first: `?:`, `||`, `&&`, `== !=`,
//! `< <= > >=`, `+ -`, `* / %`, unary `! -`, postfix (`.attr`, `[index]`, `[*]`, calls).

use std::ops::Range;

use crate::value::Value;

use super::{Mode, Ref};

/// A string with interpolations: literal text and `${…}` expressions.
#[derive(Clone, Debug, PartialEq)]
pub struct Template {
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Part {
    Lit(String),
    Interp(Expr),
}

impl Template {
    /// The single expression when the template is exactly one `${…}` (its value keeps its type).
    pub fn single(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Interp(e)] => Some(e),
            _ => None,
        }
    }

    /// True when there is no interpolation at all.
    pub fn is_literal(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Lit(_)))
    }

    pub fn literal_text(&self) -> String {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Lit(s) => s.as_str(),
                Part::Interp(_) => "",
            })
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    /// Byte range in the source file.
    pub span: Range<usize>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }
}

/// One step after a splat: applied to every element.
#[derive(Clone, Debug, PartialEq)]
pub enum Traversal {
    Attr(String, Range<usize>),
    Index(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Lit(Value),
    /// A quoted string inside an expression (may itself interpolate).
    Template(Template),
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    /// `var.x`, `local.x`, `TYPE.NAME`, `data.TYPE.NAME`. The flag says the referenced block has `for_each`
    /// (its value is a map of instances); validation sets it.
    Ref(Ref, bool),
    /// `each.key` (true) or `each.value` (false).
    Each(bool),
    GetAttr(Box<Expr>, String, Range<usize>),
    Index(Box<Expr>, Box<Expr>),
    Splat(Box<Expr>, Vec<Traversal>),
    /// Function name, its span, arguments.
    Call(String, Range<usize>, Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Cond(Box<Expr>, Box<Expr>, Box<Expr>),
}

impl Expr {
    /// Calls `f` on this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::Lit(_) | ExprKind::Ref(..) | ExprKind::Each(_) => {}
            ExprKind::Template(t) => t.walk(f),
            ExprKind::List(items) => items.iter().for_each(|e| e.walk(f)),
            ExprKind::Map(items) => items.iter().for_each(|(k, v)| {
                k.walk(f);
                v.walk(f)
            }),
            ExprKind::GetAttr(b, _, _) => b.walk(f),
            ExprKind::Index(b, i) => {
                b.walk(f);
                i.walk(f)
            }
            ExprKind::Splat(b, travs) => {
                b.walk(f);
                for t in travs {
                    if let Traversal::Index(e) = t {
                        e.walk(f)
                    }
                }
            }
            ExprKind::Call(_, _, args) => args.iter().for_each(|e| e.walk(f)),
            ExprKind::Unary(_, e) => e.walk(f),
            ExprKind::Binary(_, a, b) => {
                a.walk(f);
                b.walk(f)
            }
            ExprKind::Cond(c, a, b) => {
                c.walk(f);
                a.walk(f);
                b.walk(f)
            }
        }
    }

    /// Mutable walk (validation annotates references).
    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        f(self);
        match &mut self.kind {
            ExprKind::Lit(_) | ExprKind::Ref(..) | ExprKind::Each(_) => {}
            ExprKind::Template(t) => t.walk_mut(f),
            ExprKind::List(items) => items.iter_mut().for_each(|e| e.walk_mut(f)),
            ExprKind::Map(items) => items.iter_mut().for_each(|(k, v)| {
                k.walk_mut(f);
                v.walk_mut(f)
            }),
            ExprKind::GetAttr(b, _, _) => b.walk_mut(f),
            ExprKind::Index(b, i) => {
                b.walk_mut(f);
                i.walk_mut(f)
            }
            ExprKind::Splat(b, travs) => {
                b.walk_mut(f);
                for t in travs {
                    if let Traversal::Index(e) = t {
                        e.walk_mut(f)
                    }
                }
            }
            ExprKind::Call(_, _, args) => args.iter_mut().for_each(|e| e.walk_mut(f)),
            ExprKind::Unary(_, e) => e.walk_mut(f),
            ExprKind::Binary(_, a, b) => {
                a.walk_mut(f);
                b.walk_mut(f)
            }
            ExprKind::Cond(c, a, b) => {
                c.walk_mut(f);
                a.walk_mut(f);
                b.walk_mut(f)
            }
        }
    }
}

impl Template {
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        for p in &self.parts {
            if let Part::Interp(e) = p {
                e.walk(f)
            }
        }
    }

    pub fn walk_mut(&mut self, f: &mut dyn FnMut(&mut Expr)) {
        for p in &mut self.parts {
            if let Part::Interp(e) = p {
                e.walk_mut(f)
            }
        }
    }
}

/// A syntax error: message and byte range in the source file.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub span: Range<usize>,
}

/// Parses a decoded TOML string as a template. `map[i]` is the file offset of decoded byte `i`
/// (`map.len() == src.len() + 1`).
pub fn parse_template(src: &str, map: &[usize]) -> Result<Template, SyntaxError> {
    let mut p = Parser { src, bytes: src.as_bytes(), pos: 0, map, depth: 0 };
    let t = p.template(false)?;
    Ok(t)
}

/// Parses a bare expression (no `${}`), e.g. for tests and the CLI.
pub fn parse_expression(src: &str) -> Result<Expr, SyntaxError> {
    let map: Vec<usize> = (0..=src.len()).collect();
    let mut p = Parser { src, bytes: src.as_bytes(), pos: 0, map: &map, depth: 0 };
    let e = p.expr()?;
    let t = p.next()?;
    if t.tok != Tok::Eof {
        return Err(p.err(format!("unexpected {} after the expression", t.tok.describe()), t.span));
    }
    Ok(e)
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Number(f64),
    Quote,
    LParen,
    RParen,
    LBrack,
    RBrack,
    LBrace,
    RBrace,
    Comma,
    Dot,
    Star,
    Plus,
    Minus,
    Slash,
    Percent,
    Assign,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Question,
    Colon,
    Newline,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Number(n) => format!("number `{}`", Value::Number(*n)),
            Tok::Quote => "string".into(),
            Tok::Eof => "end of string".into(),
            Tok::Newline => "newline".into(),
            other => format!("`{}`", other.symbol()),
        }
    }

    fn symbol(&self) -> &'static str {
        match self {
            Tok::LParen => "(",
            Tok::RParen => ")",
            Tok::LBrack => "[",
            Tok::RBrack => "]",
            Tok::LBrace => "{",
            Tok::RBrace => "}",
            Tok::Comma => ",",
            Tok::Dot => ".",
            Tok::Star => "*",
            Tok::Plus => "+",
            Tok::Minus => "-",
            Tok::Slash => "/",
            Tok::Percent => "%",
            Tok::Assign => "=",
            Tok::EqEq => "==",
            Tok::NotEq => "!=",
            Tok::Lt => "<",
            Tok::Le => "<=",
            Tok::Gt => ">",
            Tok::Ge => ">=",
            Tok::AndAnd => "&&",
            Tok::OrOr => "||",
            Tok::Bang => "!",
            Tok::Question => "?",
            Tok::Colon => ":",
            _ => "?",
        }
    }
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    /// Decoded-string offsets.
    span: Range<usize>,
}

const MAX_DEPTH: usize = 64;

struct Parser<'s> {
    src: &'s str,
    bytes: &'s [u8],
    pos: usize,
    map: &'s [usize],
    depth: usize,
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

impl<'s> Parser<'s> {
    fn fspan(&self, r: Range<usize>) -> Range<usize> {
        let last = self.map.len() - 1;
        let s = self.map[r.start.min(last)];
        let e = self.map[r.end.min(last)].max(s);
        s..e
    }

    fn err(&self, message: impl Into<String>, span: Range<usize>) -> SyntaxError {
        let mut span = self.fspan(span);
        if span.is_empty() {
            span.end = span.start + 1;
        }
        SyntaxError { message: message.into(), span }
    }

    fn mk(&self, kind: ExprKind, span: Range<usize>) -> Expr {
        Expr { kind, span: self.fspan(span) }
    }

    // ---- templates ----

    /// Template text up to the end of input (`quoted == false`) or the closing `"` (consumed).
    fn template(&mut self, quoted: bool) -> Result<Template, SyntaxError> {
        let start = self.pos;
        let mut parts = Vec::new();
        let mut lit = String::new();
        loop {
            let Some(&c) = self.bytes.get(self.pos) else {
                if quoted {
                    return Err(self.err("unterminated string", start.saturating_sub(1)..start));
                }
                break;
            };
            match c {
                b'$' if self.bytes.get(self.pos + 1) == Some(&b'$') && self.bytes.get(self.pos + 2) == Some(&b'{') => {
                    lit.push_str("${");
                    self.pos += 3;
                }
                b'$' if self.bytes.get(self.pos + 1) == Some(&b'{') => {
                    if !lit.is_empty() {
                        parts.push(Part::Lit(std::mem::take(&mut lit)));
                    }
                    let open = self.pos;
                    self.pos += 2;
                    let e = self.expr()?;
                    let t = self.next()?;
                    match t.tok {
                        Tok::RBrace => {}
                        Tok::Eof => {
                            return Err(self.err("unclosed `${`: expected `}`", open..open + 2));
                        }
                        other => {
                            return Err(self.err(
                                format!("expected `}}` to close the interpolation, found {}", other.describe()),
                                t.span,
                            ))
                        }
                    }
                    parts.push(Part::Interp(e));
                }
                b'"' if quoted => {
                    self.pos += 1;
                    break;
                }
                b'\\' if quoted => {
                    let esc_start = self.pos;
                    self.pos += 1;
                    let Some(&e) = self.bytes.get(self.pos) else {
                        return Err(self.err("unterminated string", start.saturating_sub(1)..start));
                    };
                    self.pos += 1;
                    match e {
                        b'n' => lit.push('\n'),
                        b't' => lit.push('\t'),
                        b'r' => lit.push('\r'),
                        b'"' => lit.push('"'),
                        b'\\' => lit.push('\\'),
                        b'u' | b'U' => {
                            let n = if e == b'u' { 4 } else { 8 };
                            let hex = self.src.get(self.pos..self.pos + n).unwrap_or("");
                            let ch = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            match ch {
                                Some(ch) if hex.len() == n => {
                                    lit.push(ch);
                                    self.pos += n;
                                }
                                _ => {
                                    return Err(self.err(
                                        format!("invalid unicode escape: expected {n} hex digits"),
                                        esc_start..self.pos,
                                    ))
                                }
                            }
                        }
                        _ => {
                            let ch_end =
                                esc_start + 1 + self.src[esc_start + 1..].chars().next().map_or(1, char::len_utf8);
                            self.pos = ch_end;
                            return Err(self.err(
                                format!(
                                    "invalid escape `{}` (use \\n, \\t, \\r, \\\", \\\\ or \\uXXXX)",
                                    &self.src[esc_start..ch_end]
                                ),
                                esc_start..ch_end,
                            ));
                        }
                    }
                }
                _ => {
                    let ch = self.src[self.pos..].chars().next().expect("char");
                    lit.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(Part::Lit(lit));
        }
        Ok(Template { parts })
    }

    // ---- lexer ----

    fn skip_ws(&mut self, newlines: bool) {
        while let Some(&c) = self.bytes.get(self.pos) {
            if c == b' ' || c == b'\t' || c == b'\r' || (newlines && c == b'\n') {
                self.pos += 1;
            } else if c == b'#' || (c == b'/' && self.bytes.get(self.pos + 1) == Some(&b'/')) {
                while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn lex(&mut self, newlines: bool) -> Result<Token, SyntaxError> {
        self.skip_ws(!newlines);
        let start = self.pos;
        let Some(&c) = self.bytes.get(self.pos) else {
            return Ok(Token { tok: Tok::Eof, span: start..start });
        };
        let two = |p: &Self, b: u8| p.bytes.get(p.pos + 1) == Some(&b);
        let (tok, len) = match c {
            b'\n' => (Tok::Newline, 1),
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'[' => (Tok::LBrack, 1),
            b']' => (Tok::RBrack, 1),
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b',' => (Tok::Comma, 1),
            b'.' => (Tok::Dot, 1),
            b'*' => (Tok::Star, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'/' => (Tok::Slash, 1),
            b'%' => (Tok::Percent, 1),
            b'?' => (Tok::Question, 1),
            b':' => (Tok::Colon, 1),
            b'"' => (Tok::Quote, 1),
            b'=' if two(self, b'=') => (Tok::EqEq, 2),
            b'=' => (Tok::Assign, 1),
            b'!' if two(self, b'=') => (Tok::NotEq, 2),
            b'!' => (Tok::Bang, 1),
            b'<' if two(self, b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if two(self, b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'&' if two(self, b'&') => (Tok::AndAnd, 2),
            b'|' if two(self, b'|') => (Tok::OrOr, 2),
            c if c.is_ascii_digit() => {
                let mut end = self.pos;
                while end < self.bytes.len() && self.bytes[end].is_ascii_digit() {
                    end += 1;
                }
                if self.bytes.get(end) == Some(&b'.') && self.bytes.get(end + 1).is_some_and(u8::is_ascii_digit) {
                    end += 1;
                    while end < self.bytes.len() && self.bytes[end].is_ascii_digit() {
                        end += 1;
                    }
                }
                if matches!(self.bytes.get(end), Some(b'e' | b'E')) {
                    let mut e = end + 1;
                    if matches!(self.bytes.get(e), Some(b'+' | b'-')) {
                        e += 1;
                    }
                    if self.bytes.get(e).is_some_and(u8::is_ascii_digit) {
                        while e < self.bytes.len() && self.bytes[e].is_ascii_digit() {
                            e += 1;
                        }
                        end = e;
                    }
                }
                let text = &self.src[self.pos..end];
                let n: f64 = text.parse().map_err(|_| self.err(format!("invalid number `{text}`"), start..end))?;
                (Tok::Number(n), end - self.pos)
            }
            c if is_ident_start(c) => {
                let mut end = self.pos + 1;
                while end < self.bytes.len() && is_ident_char(self.bytes[end]) {
                    end += 1;
                }
                // A trailing `-` belongs to a following operator, not the name.
                while self.bytes[end - 1] == b'-' {
                    end -= 1;
                }
                (Tok::Ident(self.src[self.pos..end].to_owned()), end - self.pos)
            }
            _ => {
                let ch = self.src[self.pos..].chars().next().expect("char");
                let hint = match ch {
                    '\'' => " (strings inside expressions use double quotes)",
                    '&' => " (did you mean `&&`?)",
                    '|' => " (did you mean `||`?)",
                    _ => "",
                };
                return Err(self.err(format!("unexpected character `{ch}`{hint}"), start..start + ch.len_utf8()));
            }
        };
        self.pos += len;
        Ok(Token { tok, span: start..start + len })
    }

    /// Next token, newlines skipped.
    fn next(&mut self) -> Result<Token, SyntaxError> {
        self.lex(false)
    }

    fn peek(&mut self) -> Result<Token, SyntaxError> {
        let save = self.pos;
        let t = self.lex(false);
        self.pos = save;
        t
    }

    fn expect(&mut self, want: Tok, what: &str) -> Result<Token, SyntaxError> {
        let t = self.next()?;
        if t.tok == want {
            Ok(t)
        } else {
            Err(self.err(format!("expected {what}, found {}", t.tok.describe()), t.span))
        }
    }

    fn ident(&mut self, what: &str) -> Result<(String, Range<usize>), SyntaxError> {
        let t = self.next()?;
        match t.tok {
            Tok::Ident(s) => Ok((s, t.span)),
            other => Err(self.err(format!("expected {what}, found {}", other.describe()), t.span)),
        }
    }

    // ---- expressions ----

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let p = self.pos;
            return Err(self.err("expression nested too deeply", p..p + 1));
        }
        let r = self.conditional();
        self.depth -= 1;
        r
    }

    fn conditional(&mut self) -> Result<Expr, SyntaxError> {
        let cond = self.binary(0)?;
        if self.peek()?.tok != Tok::Question {
            return Ok(cond);
        }
        self.next()?;
        let a = self.expr()?;
        self.expect(Tok::Colon, "`:` in the conditional `cond ? a : b`")?;
        let b = self.expr()?;
        let span = cond.span.start..b.span.end;
        Ok(Expr { kind: ExprKind::Cond(Box::new(cond), Box::new(a), Box::new(b)), span })
    }

    fn binop(tok: &Tok) -> Option<(BinOp, u8)> {
        Some(match tok {
            Tok::OrOr => (BinOp::Or, 1),
            Tok::AndAnd => (BinOp::And, 2),
            Tok::EqEq => (BinOp::Eq, 3),
            Tok::NotEq => (BinOp::Ne, 3),
            Tok::Lt => (BinOp::Lt, 4),
            Tok::Le => (BinOp::Le, 4),
            Tok::Gt => (BinOp::Gt, 4),
            Tok::Ge => (BinOp::Ge, 4),
            Tok::Plus => (BinOp::Add, 5),
            Tok::Minus => (BinOp::Sub, 5),
            Tok::Star => (BinOp::Mul, 6),
            Tok::Slash => (BinOp::Div, 6),
            Tok::Percent => (BinOp::Rem, 6),
            _ => return None,
        })
    }

    /// Precedence climbing; all binary operators are left-associative.
    fn binary(&mut self, min_prec: u8) -> Result<Expr, SyntaxError> {
        let mut lhs = self.unary()?;
        loop {
            let t = self.peek()?;
            let Some((op, prec)) = Self::binop(&t.tok) else { break };
            if prec <= min_prec {
                break;
            }
            self.next()?;
            let rhs = self.binary(prec)?;
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span };
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        let t = self.peek()?;
        let op = match t.tok {
            Tok::Bang => UnOp::Not,
            Tok::Minus => UnOp::Neg,
            _ => return self.postfix(),
        };
        self.next()?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err("expression nested too deeply", t.span));
        }
        let e = self.unary()?;
        self.depth -= 1;
        let span = self.fspan(t.span.clone()).start..e.span.end;
        if let (UnOp::Neg, ExprKind::Lit(Value::Number(n))) = (op, &e.kind) {
            return Ok(Expr { kind: ExprKind::Lit(Value::Number(-n)), span });
        }
        Ok(Expr { kind: ExprKind::Unary(op, Box::new(e)), span })
    }

    fn postfix(&mut self) -> Result<Expr, SyntaxError> {
        let mut e = self.primary()?;
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::Dot => {
                    self.next()?;
                    if self.peek()?.tok == Tok::Star {
                        self.next()?;
                        e = self.splat(e)?;
                        continue;
                    }
                    let (name, nspan) = self.ident("an attribute name after `.`")?;
                    let span = e.span.start..self.fspan(nspan.clone()).end;
                    e = Expr { kind: ExprKind::GetAttr(Box::new(e), name, self.fspan(nspan)), span };
                }
                Tok::LBrack => {
                    self.next()?;
                    if self.peek()?.tok == Tok::Star {
                        self.next()?;
                        self.expect(Tok::RBrack, "`]` after `[*`")?;
                        e = self.splat(e)?;
                        continue;
                    }
                    let idx = self.expr()?;
                    let close = self.expect(Tok::RBrack, "`]` to close the index")?;
                    let span = e.span.start..self.fspan(close.span).end;
                    e = Expr { kind: ExprKind::Index(Box::new(e), Box::new(idx)), span };
                }
                _ => break,
            }
        }
        Ok(e)
    }

    /// After `[*]`: the following `.attr` / `[index]` steps apply to each element.
    fn splat(&mut self, base: Expr) -> Result<Expr, SyntaxError> {
        let mut travs = Vec::new();
        let mut end = self.map[self.pos.min(self.map.len() - 1)];
        loop {
            let t = self.peek()?;
            match t.tok {
                Tok::Dot => {
                    self.next()?;
                    let (name, nspan) = self.ident("an attribute name after `.`")?;
                    end = self.fspan(nspan.clone()).end;
                    travs.push(Traversal::Attr(name, self.fspan(nspan)));
                }
                Tok::LBrack => {
                    self.next()?;
                    if self.peek()?.tok == Tok::Star {
                        let t = self.next()?;
                        return Err(self.err("nested splat `[*]` is not supported", t.span));
                    }
                    let idx = self.expr()?;
                    let close = self.expect(Tok::RBrack, "`]` to close the index")?;
                    end = self.fspan(close.span).end;
                    travs.push(Traversal::Index(idx));
                }
                _ => break,
            }
        }
        let span = base.span.start..end.max(base.span.end);
        Ok(Expr { kind: ExprKind::Splat(Box::new(base), travs), span })
    }

    fn primary(&mut self) -> Result<Expr, SyntaxError> {
        let t = self.next()?;
        match t.tok {
            Tok::Number(n) => Ok(self.mk(ExprKind::Lit(Value::Number(n)), t.span)),
            Tok::Quote => {
                let tpl = self.template(true)?;
                let span = t.span.start..self.pos;
                if tpl.is_literal() {
                    Ok(self.mk(ExprKind::Lit(Value::String(tpl.literal_text())), span))
                } else {
                    Ok(self.mk(ExprKind::Template(tpl), span))
                }
            }
            Tok::LParen => {
                let e = self.expr()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(e)
            }
            Tok::LBrack => self.list(t.span.start),
            Tok::LBrace => self.map_lit(t.span.start),
            Tok::Ident(name) => self.ident_expr(name, t.span),
            Tok::Eof => Err(self.err("expected an expression", t.span)),
            other => Err(self.err(format!("expected an expression, found {}", other.describe()), t.span)),
        }
    }

    fn list(&mut self, start: usize) -> Result<Expr, SyntaxError> {
        let mut items = Vec::new();
        loop {
            if self.peek()?.tok == Tok::RBrack {
                let close = self.next()?;
                return Ok(self.mk(ExprKind::List(items), start..close.span.end));
            }
            items.push(self.expr()?);
            let t = self.next()?;
            match t.tok {
                Tok::Comma => {}
                Tok::RBrack => return Ok(self.mk(ExprKind::List(items), start..t.span.end)),
                other => {
                    return Err(self.err(format!("expected `,` or `]` in list, found {}", other.describe()), t.span))
                }
            }
        }
    }

    fn map_lit(&mut self, start: usize) -> Result<Expr, SyntaxError> {
        let mut items = Vec::new();
        loop {
            let t = self.peek()?;
            if t.tok == Tok::RBrace {
                let close = self.next()?;
                return Ok(self.mk(ExprKind::Map(items), start..close.span.end));
            }
            let key = match t.tok {
                Tok::Ident(name) => {
                    self.next()?;
                    self.mk(ExprKind::Lit(Value::String(name)), t.span)
                }
                Tok::LParen => {
                    self.next()?;
                    let k = self.expr()?;
                    self.expect(Tok::RParen, "`)`")?;
                    k
                }
                Tok::Quote | Tok::Number(_) => self.primary()?,
                other => return Err(self.err(format!("expected a map key, found {}", other.describe()), t.span)),
            };
            let sep = self.next()?;
            if !matches!(sep.tok, Tok::Assign | Tok::Colon) {
                return Err(self.err(format!("expected `=` after the map key, found {}", sep.tok.describe()), sep.span));
            }
            let value = self.expr()?;
            items.push((key, value));
            // Separator: a comma or a newline.
            let save = self.pos;
            let t = self.lex(true)?;
            match t.tok {
                Tok::Comma | Tok::Newline => {}
                Tok::RBrace => self.pos = save,
                other => {
                    return Err(self.err(format!("expected `,` or `}}` in map, found {}", other.describe()), t.span))
                }
            }
        }
    }

    fn ident_expr(&mut self, name: String, span: Range<usize>) -> Result<Expr, SyntaxError> {
        match name.as_str() {
            "true" => return Ok(self.mk(ExprKind::Lit(Value::Bool(true)), span)),
            "false" => return Ok(self.mk(ExprKind::Lit(Value::Bool(false)), span)),
            "null" => return Ok(self.mk(ExprKind::Lit(Value::Null), span)),
            _ => {}
        }
        if self.peek()?.tok == Tok::LParen {
            self.next()?;
            let mut args = Vec::new();
            let end = loop {
                if self.peek()?.tok == Tok::RParen {
                    break self.next()?.span.end;
                }
                args.push(self.expr()?);
                let t = self.next()?;
                match t.tok {
                    Tok::Comma => {}
                    Tok::RParen => break t.span.end,
                    other => {
                        return Err(self.err(
                            format!("expected `,` or `)` in the arguments of `{name}`, found {}", other.describe()),
                            t.span,
                        ))
                    }
                }
            };
            let name_span = self.fspan(span.clone());
            return Ok(self.mk(ExprKind::Call(name, name_span, args), span.start..end));
        }
        let dot = |p: &mut Self, what: &str| -> Result<(String, Range<usize>), SyntaxError> {
            let t = p.next()?;
            if t.tok != Tok::Dot {
                return Err(p.err(format!("expected `.` after `{name}` ({what}), found {}", t.tok.describe()), t.span));
            }
            p.ident(what)
        };
        match name.as_str() {
            "var" => {
                let (n, s) = dot(self, "a variable name: `var.NAME`")?;
                Ok(self.mk(ExprKind::Ref(Ref::Var(n), false), span.start..s.end))
            }
            "local" => {
                let (n, s) = dot(self, "a local name: `local.NAME`")?;
                Ok(self.mk(ExprKind::Ref(Ref::Local(n), false), span.start..s.end))
            }
            "each" => {
                let (n, s) = dot(self, "`each.key` or `each.value`")?;
                match n.as_str() {
                    "key" => Ok(self.mk(ExprKind::Each(true), span.start..s.end)),
                    "value" => Ok(self.mk(ExprKind::Each(false), span.start..s.end)),
                    _ => Err(self.err(format!("`each` has only `key` and `value`, not `{n}`"), s)),
                }
            }
            "workspace" if self.peek()?.tok != Tok::Dot => Ok(self.mk(ExprKind::Ref(Ref::Workspace, false), span)),
            "data" => {
                let (t, _) = dot(self, "a data source: `data.TYPE.NAME`")?;
                let (n, s) = dot(self, "a data source: `data.TYPE.NAME`")?;
                Ok(self.mk(
                    ExprKind::Ref(Ref::Resource { mode: Mode::Data, type_name: t, name: n }, false),
                    span.start..s.end,
                ))
            }
            _ => {
                let t = self.peek()?;
                if t.tok == Tok::Colon {
                    // `${aws:username}` in a policy document is IAM's interpolation, not ours.
                    return Err(self.err(
                        format!(
                            "unknown name `{name}`: `${{{name}:…}}` looks like an IAM policy variable; write it `$${{{name}:…}}` so it stays literal"
                        ),
                        span,
                    ));
                }
                if t.tok != Tok::Dot {
                    return Err(self.err(
                        format!(
                            "unknown name `{name}`: expected a reference (`var.NAME`, `local.NAME`, `TYPE.NAME`, `data.TYPE.NAME`, `each.key`, `workspace`) or a function call"
                        ),
                        span,
                    ));
                }
                let (n, s) = dot(self, "a resource reference: `TYPE.NAME`")?;
                Ok(self.mk(
                    ExprKind::Ref(Ref::Resource { mode: Mode::Managed, type_name: name, name: n }, false),
                    span.start..s.end,
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn iam_policy_variables_get_a_hint_to_escape_them() {
        let src = "${aws:username}";
        let map: Vec<usize> = (0..=src.len()).collect();
        let e = parse_template(src, &map).unwrap_err();
        assert!(e.message.contains("$${aws:…}"), "{}", e.message);
        let ok = "$${aws:username}";
        let map: Vec<usize> = (0..=ok.len()).collect();
        assert!(parse_template(ok, &map).is_ok());
    }
    use super::*;

    fn p(s: &str) -> Expr {
        parse_expression(s).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    /// Renders the AST as an S-expression for compact assertions.
    fn sx(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Lit(v) => v.to_string(),
            ExprKind::Template(t) => {
                let parts: Vec<String> = t
                    .parts
                    .iter()
                    .map(|p| match p {
                        Part::Lit(s) => format!("{s:?}"),
                        Part::Interp(e) => format!("${{{}}}", sx(e)),
                    })
                    .collect();
                format!("(tpl {})", parts.join(" "))
            }
            ExprKind::List(items) => format!("[{}]", items.iter().map(sx).collect::<Vec<_>>().join(" ")),
            ExprKind::Map(items) => {
                format!(
                    "{{{}}}",
                    items.iter().map(|(k, v)| format!("{}={}", sx(k), sx(v))).collect::<Vec<_>>().join(" ")
                )
            }
            ExprKind::Ref(r, _) => r.key(),
            ExprKind::Each(k) => if *k { "each.key" } else { "each.value" }.into(),
            ExprKind::GetAttr(b, n, _) => format!("{}.{n}", sx(b)),
            ExprKind::Index(b, i) => format!("{}[{}]", sx(b), sx(i)),
            ExprKind::Splat(b, t) => format!(
                "(splat {} {})",
                sx(b),
                t.iter()
                    .map(|t| match t {
                        Traversal::Attr(n, _) => format!(".{n}"),
                        Traversal::Index(e) => format!("[{}]", sx(e)),
                    })
                    .collect::<String>()
            ),
            ExprKind::Call(n, _, args) => format!("{n}({})", args.iter().map(sx).collect::<Vec<_>>().join(", ")),
            ExprKind::Unary(UnOp::Not, e) => format!("(! {})", sx(e)),
            ExprKind::Unary(UnOp::Neg, e) => format!("(neg {})", sx(e)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", op.symbol(), sx(a), sx(b)),
            ExprKind::Cond(c, a, b) => format!("(? {} {} {})", sx(c), sx(a), sx(b)),
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(sx(&p("1 + 2 * 3 - 4")), "(- (+ 1 (* 2 3)) 4)");
        assert_eq!(sx(&p("(1 + 2) * 3")), "(* (+ 1 2) 3)");
        assert_eq!(sx(&p("!a.b || c.d && 1 < 2 == true")), "(|| (! a.b) (&& c.d (== (< 1 2) true)))");
        assert_eq!(sx(&p("-var.n % 3")), "(% (neg var.n) 3)");
        assert_eq!(sx(&p("10 / 5 / 2")), "(/ (/ 10 5) 2)");
        assert_eq!(sx(&p("-3")), "-3");
    }

    #[test]
    fn conditional_is_right_associative_and_loosest() {
        assert_eq!(
            sx(&p(r#"var.env == "prod" ? 3 : var.env == "stage" ? 2 : 1"#)),
            r#"(? (== var.env "prod") 3 (? (== var.env "stage") 2 1))"#
        );
    }

    #[test]
    fn calls_references_and_postfix() {
        assert_eq!(
            sx(&p(r#"cidrsubnet(vpc.main.cidr_block, 8, length(split(",", var.x)) + 1)"#)),
            r#"cidrsubnet(vpc.main.cidr_block, 8, (+ length(split(",", var.x)) 1))"#
        );
        assert_eq!(sx(&p("subnet.public[each.key].id")), "subnet.public[each.key].id");
        assert_eq!(sx(&p(r#"subnet.public["a"].id"#)), r#"subnet.public["a"].id"#);
        assert_eq!(sx(&p("subnet.public[*].id")), "(splat subnet.public .id)");
        assert_eq!(sx(&p("subnet.public.*.tags[\"Name\"]")), "(splat subnet.public .tags[\"Name\"])");
        assert_eq!(sx(&p("(subnet.public[*].id)[0]")), "(splat subnet.public .id)[0]");
        assert_eq!(sx(&p("data.availability_zones.all.names[0]")), "data.availability_zones.all.names[0]");
        assert_eq!(sx(&p("local.a[var.i + 1]")), "local.a[(+ var.i 1)]");
        assert_eq!(sx(&p("each.value.cidr")), "each.value.cidr");
        assert_eq!(sx(&p("var.my-name")), "var.my-name");
    }

    #[test]
    fn literals() {
        assert_eq!(sx(&p("[1, \"a\", true, null,]")), "[1 \"a\" true null]");
        assert_eq!(sx(&p("{ a = 1, \"b-c\" = [2] }")), "{\"a\"=1 \"b-c\"=[2]}");
        assert_eq!(sx(&p("{\n a = 1\n b = 2\n}")), "{\"a\"=1 \"b\"=2}");
        assert_eq!(sx(&p("1.5e2")), "150");
        assert_eq!(sx(&p(r#""tab\there \"q\" \u00e9""#)), "\"tab\\there \\\"q\\\" é\"");
        assert_eq!(sx(&p(r#""x-${var.a}-${upper("y")}""#)), r#"(tpl "x-" ${var.a} "-" ${upper("y")})"#);
    }

    fn tpl(s: &str) -> Result<Template, SyntaxError> {
        let map: Vec<usize> = (0..=s.len()).collect();
        parse_template(s, &map)
    }

    #[test]
    fn templates_and_escaped_dollar() {
        let t = tpl("a-${var.x}-$${lit}").unwrap();
        assert_eq!(t.parts.len(), 3);
        assert_eq!(t.parts[2], Part::Lit("-${lit}".into()));
        let t = tpl("${var.x}").unwrap();
        assert!(t.single().is_some());
        let t = tpl("$${only}").unwrap();
        assert!(t.is_literal());
        assert_eq!(t.literal_text(), "${only}");
        let t = tpl("cost: $5").unwrap();
        assert_eq!(t.literal_text(), "cost: $5");
        // A `}` inside a nested string does not close the interpolation.
        let t = tpl(r#"${join("}", ["a", "b"])}!"#).unwrap();
        assert_eq!(t.parts.len(), 2);
    }

    #[test]
    fn error_columns() {
        let e = tpl("x-${var.a +}").unwrap_err();
        assert_eq!((e.span.start, e.message.as_str()), (11, "expected an expression, found `}`"));
        let e = tpl("${var.a").unwrap_err();
        assert_eq!(e.span.start, 0);
        assert!(e.message.contains("unclosed"), "{}", e.message);
        let e = tpl("ab ${ vpc.main.id @ }").unwrap_err();
        assert_eq!(e.span.start, 18);
        let e = tpl("${each.name}").unwrap_err();
        assert_eq!(e.span, 7..11);
        let e = tpl("${foo}").unwrap_err();
        assert_eq!(e.span, 2..5);
        let e = tpl("${f(1 2)}").unwrap_err();
        assert_eq!(e.span.start, 6);
        let e = tpl(r#"${"abc}"#).unwrap_err();
        assert!(e.message.contains("unterminated"), "{}", e.message);
        let e = tpl("${var.a ? var.b}").unwrap_err();
        assert!(e.message.contains("`:`"), "{}", e.message);
        let deep = format!("${{{}1{}}}", "(".repeat(200), ")".repeat(200));
        assert!(tpl(&deep).unwrap_err().message.contains("too deeply"));
    }

    #[test]
    fn spans_map_to_file_offsets() {
        // Decoded `${var.a+}` sits at file offset 10 and the `+` escapes nothing: identity shifted.
        let src = "${var.a +}";
        let map: Vec<usize> = (10..=10 + src.len()).collect();
        let e = parse_template(src, &map).unwrap_err();
        assert_eq!(e.span.start, 19);
    }
}
