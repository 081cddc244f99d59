//! Source positions and user-facing diagnostics of the stack language.
//!
//! A [`Loc`] is a byte range in one [`SourceFile`]; a [`Diagnostic`] is one located problem with an optional
//! label and hint. `Display` is the plain `path:line:col: message` form (logs, tests); the
//! [`miette::Diagnostic`] implementations give the rich, underlined rendering.

use std::fmt;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use miette::{LabeledSpan, MietteError, MietteSpanContents, SourceCode, SourceSpan, SpanContents};

/// One file of a stack (or a var-file), kept for positions and rendering.
#[derive(Debug, PartialEq, Eq)]
pub struct SourceFile {
    /// As shown to users: the stack directory joined with the file name.
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Arc<SourceFile> {
        Arc::new(SourceFile { path: path.into(), text: text.into() })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        (line, before[line_start..].chars().count() + 1)
    }
}

impl SourceCode for SourceFile {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn SpanContents<'a> + 'a>, MietteError> {
        let inner = self.text.as_str().read_span(span, before, after)?;
        Ok(Box::new(MietteSpanContents::new_named(
            self.path.display().to_string(),
            inner.data(),
            *inner.span(),
            inner.line(),
            inner.column(),
            inner.line_count(),
        )))
    }
}

/// A byte range in a source file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Loc {
    pub file: Arc<SourceFile>,
    pub span: Range<usize>,
}

impl Loc {
    pub fn new(file: &Arc<SourceFile>, span: Range<usize>) -> Loc {
        Loc { file: file.clone(), span }
    }

    /// 1-based line and column of the start of the span.
    pub fn line_col(&self) -> (usize, usize) {
        self.file.line_col(self.span.start)
    }

    /// `path:line:col`.
    pub fn position(&self) -> String {
        let (l, c) = self.line_col();
        format!("{}:{l}:{c}", self.file.path.display())
    }

    /// The source text the span covers.
    pub fn snippet(&self) -> &str {
        self.file.text.get(self.span.clone()).unwrap_or("")
    }
}

/// A user-facing error with position and hint.
#[derive(Debug, Clone)]
pub struct Diagnostic {
    pub message: String,
    pub loc: Option<Loc>,
    pub label: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Diagnostic { message: message.into(), loc: None, label: None, help: None }
    }

    pub fn at(message: impl Into<String>, loc: &Loc) -> Self {
        Diagnostic { message: message.into(), loc: Some(loc.clone()), label: None, help: None }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Sets the help only when there is one (e.g. an optional "did you mean").
    pub fn with_help_opt(mut self, help: Option<String>) -> Self {
        if help.is_some() {
            self.help = help;
        }
        self
    }

    /// 1-based (line, column), when located.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.loc.as_ref().map(Loc::line_col)
    }

    /// Plain multi-line form: the `Display` line plus label and help lines.
    pub fn render_plain(&self) -> String {
        let mut s = self.to_string();
        if let Some(l) = &self.label {
            s.push_str(&format!("\n  note: {l}"));
        }
        if let Some(h) = &self.help {
            s.push_str(&format!("\n  help: {h}"));
        }
        s
    }

    /// Rich rendering through miette (source excerpt with the span underlined).
    pub fn render_fancy(&self, color: bool) -> String {
        render_miette(self, color)
    }
}

fn render_miette(d: &dyn miette::Diagnostic, color: bool) -> String {
    let theme = if color { miette::GraphicalTheme::unicode() } else { miette::GraphicalTheme::unicode_nocolor() };
    let handler = miette::GraphicalReportHandler::new_themed(theme).with_context_lines(1);
    let mut out = String::new();
    if handler.render_report(&mut out, d).is_err() {
        return d.to_string();
    }
    out
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.loc {
            Some(loc) => write!(f, "{}: {}", loc.position(), self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Diagnostic {}

impl miette::Diagnostic for Diagnostic {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.loc.as_ref().map(|l| &*l.file as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let loc = self.loc.as_ref()?;
        let len = loc.span.end.saturating_sub(loc.span.start);
        let label = LabeledSpan::new_primary_with_span(self.label.clone(), (loc.span.start, len));
        Some(Box::new(std::iter::once(label)))
    }
}

/// Several diagnostics: validation reports everything it finds.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }

    /// Each diagnostic rendered by miette, separated by blank lines.
    pub fn render_fancy(&self, color: bool) -> String {
        self.0.iter().map(|d| d.render_fancy(color)).collect::<Vec<_>>().join("\n")
    }

    /// Each diagnostic in plain form (with hints), one after the other.
    pub fn render_plain(&self) -> String {
        self.0.iter().map(Diagnostic::render_plain).collect::<Vec<_>>().join("\n")
    }
}

impl From<Diagnostic> for Diagnostics {
    fn from(d: Diagnostic) -> Self {
        Diagnostics(vec![d])
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// One diagnostic renders as itself; several render as related diagnostics (prefer
/// [`Diagnostics::render_fancy`] for several: it does not repeat the messages in a summary line).
impl miette::Diagnostic for Diagnostics {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.single().and_then(miette::Diagnostic::help)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.single().and_then(|d| miette::Diagnostic::source_code(d))
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.single().and_then(miette::Diagnostic::labels)
    }

    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn miette::Diagnostic> + 'a>> {
        if self.0.len() < 2 {
            return None;
        }
        Some(Box::new(self.0.iter().map(|d| d as &dyn miette::Diagnostic)))
    }
}

impl Diagnostics {
    fn single(&self) -> Option<&Diagnostic> {
        match self.0.as_slice() {
            [d] => Some(d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_line_col() {
        let f = SourceFile::new("stack/main.toml", "a = 1\nbé = \"x\"\n");
        let loc = Loc::new(&f, 12..15);
        assert_eq!(loc.line_col(), (2, 6));
        let d = Diagnostic::at("bad", &loc).with_help("fix it");
        assert_eq!(d.to_string(), "stack/main.toml:2:6: bad");
        assert!(d.render_plain().contains("help: fix it"));
        let fancy = d.render_fancy(false);
        assert!(fancy.contains("bad") && fancy.contains("fix it"), "{fancy}");
        let ds = Diagnostics(vec![d.clone(), Diagnostic::new("other")]);
        assert_eq!(ds.to_string(), "stack/main.toml:2:6: bad\nother");
        let one = Diagnostics(vec![d]);
        let rendered = render_miette(&one, false);
        assert!(rendered.contains("fix it") && rendered.contains("bé"), "{rendered}");
    }
}
