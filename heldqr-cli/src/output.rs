//! Everything `heldqr` writes: data on stdout, messages on stderr.
//!
//! One [`Ui`] is decided per run from `--json`, whether stdout and stderr are terminals,
//! `NO_COLOR`, `TERM=dumb` and `HELDQR_FORCE_TTY`, and every command prints through it:
//! - stdout carries data only: a table for people on a terminal, tab-separated lines when piped
//!   (one record per line, gh-style), or with `--json` exactly one JSON document;
//! - stderr carries errors (`error: MESSAGE (CODE)` then one line per field error), warnings,
//!   hints and progress; animated output only when stderr is a terminal;
//! - colour only when the stream is a terminal and `NO_COLOR` is unset.

use std::io::{IsTerminal, Write};

use anstyle::{AnsiColor, Style};
use comfy_table::{Cell, Color, ContentArrangement, Table, presets};
use serde::Serialize;

use std::rc::Rc;

use crate::error::CliError;
use crate::jq::Jq;

/// How data goes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// Tables and charts for a person at a terminal.
    Table,
    /// Tab-separated lines without decoration, for pipes.
    Plain,
    /// One JSON document (`--json`).
    Json,
}

/// The decided output behaviour of this run.
#[derive(Debug, Clone)]
pub struct Ui {
    /// How data goes to stdout.
    pub mode: OutputMode,
    /// Whether stdout may carry ANSI colour.
    pub stdout_color: bool,
    /// Whether stderr may carry ANSI colour.
    pub stderr_color: bool,
    /// Whether stderr is a terminal (progress bars and prompts only then).
    pub stderr_tty: bool,
    /// Whether stdin is a terminal (prompt instead of reading a pipe).
    pub stdin_tty: bool,
    /// `--jq EXPR`: applied to every JSON document before it is printed.
    pub jq: Option<Rc<Jq>>,
}

/// Facts about the process's terminal and environment, gathered once (tests build their own).
#[derive(Debug, Clone, Default)]
pub struct Terminal {
    /// stdout is a terminal (or `HELDQR_FORCE_TTY` says to act as if).
    pub stdout_tty: bool,
    /// stderr is a terminal.
    pub stderr_tty: bool,
    /// stdin is a terminal.
    pub stdin_tty: bool,
    /// `NO_COLOR` is set to a non-empty value, or `TERM=dumb`.
    pub no_color: bool,
}

impl Terminal {
    /// Reads the real process state.
    pub fn detect(env: impl Fn(&str) -> Option<String>) -> Self {
        let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
        Terminal {
            stdout_tty: std::io::stdout().is_terminal() || set("HELDQR_FORCE_TTY"),
            stderr_tty: std::io::stderr().is_terminal(),
            stdin_tty: std::io::stdin().is_terminal(),
            no_color: set("NO_COLOR") || env("TERM").as_deref() == Some("dumb"),
        }
    }
}

impl Ui {
    /// Decides the output behaviour.
    pub fn new(json: bool, terminal: &Terminal) -> Self {
        let mode = if json {
            OutputMode::Json
        } else if terminal.stdout_tty {
            OutputMode::Table
        } else {
            OutputMode::Plain
        };
        Ui {
            mode,
            stdout_color: terminal.stdout_tty && !terminal.no_color,
            stderr_color: terminal.stderr_tty && !terminal.no_color,
            stderr_tty: terminal.stderr_tty,
            stdin_tty: terminal.stdin_tty,
            jq: None,
        }
    }

    /// The same decisions, with `--jq`'s compiled filter (which implies JSON output).
    pub fn with_jq(mut self, jq: Option<Jq>) -> Self {
        if jq.is_some() {
            self.mode = OutputMode::Json;
        }
        self.jq = jq.map(Rc::new);
        self
    }

    /// Prints `value` as one pretty JSON document on stdout, or, with `--jq`, the filter's
    /// results (strings raw, one a line). Nothing is printed when the filter fails.
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let encode =
            |err: serde_json::Error| CliError::Other(format!("cannot encode JSON output: {err}"));
        if let Some(jq) = &self.jq {
            let bytes = serde_json::to_vec(value).map_err(encode)?;
            let text = jq.apply(&bytes)?;
            return self.stdout_raw(&text);
        }
        let text = serde_json::to_string_pretty(value).map_err(encode)?;
        self.stdout_text(&text)
    }

    /// Prints `value` as one line of compact JSON (`--json-lines`), or the `--jq` filter's
    /// results for it.
    pub fn json_line<T: Serialize + ?Sized>(&self, value: &T) -> Result<(), CliError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|err| CliError::Other(format!("cannot encode JSON output: {err}")))?;
        match &self.jq {
            Some(jq) => self.stdout_raw(&jq.apply(&bytes)?),
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(&bytes)?;
                out.write_all(b"\n")?;
                out.flush()?;
                Ok(())
            }
        }
    }

    /// Writes `text` as is (it carries its own line ends).
    fn stdout_raw(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }

    /// Writes `text` plus a newline to stdout.
    pub fn stdout_text(&self, text: &str) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        if !text.ends_with('\n') {
            out.write_all(b"\n")?;
        }
        out.flush()?;
        Ok(())
    }

    /// Writes raw bytes to stdout (an SVG or PNG piped somewhere).
    pub fn stdout_bytes(&self, bytes: &[u8]) -> Result<(), CliError> {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()?;
        Ok(())
    }

    /// Prints one object as `field value` pairs: a two-column table on a terminal, `field\tvalue`
    /// lines when piped.
    pub fn record(&self, fields: &[Field]) -> Result<(), CliError> {
        self.stdout_text(&self.record_text(fields))
    }

    /// The text [`Ui::record`] prints (every value made terminal-safe).
    pub fn record_text(&self, fields: &[Field]) -> String {
        match self.mode {
            OutputMode::Table => {
                let mut table = self.new_table();
                for field in fields {
                    let name = Cell::new(field.name);
                    let value = self.cell(&field.value, field.tone);
                    table.add_row(vec![name, value]);
                }
                table.to_string()
            }
            OutputMode::Plain | OutputMode::Json => fields
                .iter()
                .map(|f| format!("{}\t{}", f.name, plain(&f.value)))
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    /// Prints rows under `headers`: a table on a terminal, tab-separated lines (no header) when
    /// piped. An empty table on a terminal prints `empty_message` to stderr instead.
    pub fn rows(
        &self,
        headers: &[&str],
        rows: &[Vec<Value>],
        empty_message: &str,
    ) -> Result<(), CliError> {
        if rows.is_empty() {
            if self.mode == OutputMode::Table {
                self.info(empty_message);
            }
            return Ok(());
        }
        self.stdout_text(&self.rows_text(headers, rows))
    }

    /// The text [`Ui::rows`] prints for a non-empty table (every cell made terminal-safe).
    pub fn rows_text(&self, headers: &[&str], rows: &[Vec<Value>]) -> String {
        match self.mode {
            OutputMode::Table => {
                let mut table = self.new_table();
                table.set_header(headers.iter().map(|h| self.header_cell(h)));
                for row in rows {
                    table.add_row(row.iter().map(|v| {
                        let cell = self.cell(&v.text, v.tone);
                        if v.numeric {
                            cell.set_alignment(comfy_table::CellAlignment::Right)
                        } else {
                            cell
                        }
                    }));
                }
                table.to_string()
            }
            OutputMode::Plain | OutputMode::Json => rows
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|v| plain(&v.text))
                        .collect::<Vec<_>>()
                        .join("\t")
                })
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    fn new_table(&self) -> Table {
        let mut table = Table::new();
        table
            .load_preset(presets::UTF8_FULL_CONDENSED)
            .apply_modifier(comfy_table::modifiers::UTF8_ROUND_CORNERS)
            .set_content_arrangement(ContentArrangement::Dynamic);
        if self.stdout_color {
            table.enforce_styling();
        } else {
            table.force_no_tty();
        }
        // A terminal that reports no columns (`stty cols 0`, some CI pseudo-terminals) has an
        // unknown width: lay the table out at its content's width, not one character a line.
        if table.width() == Some(0) {
            table.set_content_arrangement(ContentArrangement::Disabled);
        }
        table
    }

    fn header_cell(&self, text: &str) -> Cell {
        let cell = Cell::new(text);
        if self.stdout_color {
            cell.add_attribute(comfy_table::Attribute::Bold)
        } else {
            cell
        }
    }

    fn cell(&self, text: &str, tone: Tone) -> Cell {
        // Values come from the server: never let one carry escapes or break the row.
        let cell = Cell::new(one_line(text));
        if !self.stdout_color {
            return cell;
        }
        match tone {
            Tone::Plain => cell,
            Tone::Good => cell.fg(Color::Green),
            Tone::Warn => cell.fg(Color::Yellow),
            Tone::Dim => cell.fg(Color::DarkGrey),
        }
    }

    /// Prints `err` on stderr: `error: MESSAGE (CODE)`, detail lines, then hints. A broken
    /// pipe prints nothing.
    pub fn report(&self, err: &CliError, hints: crate::error::HintContext) {
        if matches!(err, CliError::BrokenPipe) {
            return;
        }
        let described = err.describe_in(hints);
        self.error_lines(&described.message, &described.code, &described.details);
        for hint in &described.hints {
            self.hint(hint);
        }
    }

    /// `error: MESSAGE (CODE)` and any detail lines, on stderr.
    pub fn error_lines(&self, message: &str, code: &str, details: &[String]) {
        eprint_quietly(&self.error_text(message, code, details));
    }

    /// The text [`Ui::error_lines`] prints. The message, the code and each detail line are
    /// made one terminal-safe line each ([`one_line`]): they carry server text.
    pub fn error_text(&self, message: &str, code: &str, details: &[String]) -> String {
        let style = Style::new().bold().fg_color(Some(AnsiColor::Red.into()));
        let mut text = format!(
            "{}: {} ({})\n",
            self.paint_err("error", style),
            one_line(message),
            one_line(code)
        );
        for line in details {
            text.push_str(&one_line(line));
            text.push('\n');
        }
        text
    }

    /// `warning: MESSAGE` on stderr, on one terminal-safe line.
    pub fn warn(&self, message: &str) {
        let style = Style::new().bold().fg_color(Some(AnsiColor::Yellow.into()));
        eprint_quietly(&format!(
            "{}: {}\n",
            self.paint_err("warning", style),
            one_line(message)
        ));
    }

    /// `hint: MESSAGE` on stderr, on one terminal-safe line.
    pub fn hint(&self, message: &str) {
        let style = Style::new().fg_color(Some(AnsiColor::Cyan.into()));
        eprint_quietly(&format!(
            "{}: {}\n",
            self.paint_err("hint", style),
            one_line(message)
        ));
    }

    /// Plain lines on stderr (progress notes, summaries). Line breaks are kept, every other
    /// control character is replaced ([`terminal_safe`]); server text in a message should still
    /// go through [`one_line`] so it cannot start a line of its own.
    pub fn info(&self, message: &str) {
        eprint_quietly(&format!("{}\n", terminal_safe(message)));
    }

    /// `text` in `style` when stdout carries colour.
    pub fn paint_out(&self, text: &str, style: Style) -> String {
        paint(text, style, self.stdout_color)
    }

    fn paint_err(&self, text: &str, style: Style) -> String {
        paint(text, style, self.stderr_color)
    }
}

fn paint(text: &str, style: Style, enabled: bool) -> String {
    if enabled {
        format!("{style}{text}{style:#}")
    } else {
        text.to_string()
    }
}

/// Writes to stderr, ignoring failures (there is nowhere left to report them).
fn eprint_quietly(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// Characters that must not reach a terminal from server text: control characters (C0 with
/// tab, line feed and ESC; DEL; C1 with CSI) and the bidirectional overrides and isolates, which
/// can make a line display differently from what it says.
fn unsafe_for_terminal(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Text made safe to print as one line: every control character (line breaks, tabs, ESC...)
/// and bidi override becomes a space. Use it on anything the server or a file provided.
pub fn one_line(text: &str) -> String {
    if !text.chars().any(unsafe_for_terminal) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if unsafe_for_terminal(c) { ' ' } else { c })
        .collect()
}

/// Like [`one_line`], but keeps line feeds (for multi-line text the CLI itself assembles).
pub fn terminal_safe(text: &str) -> String {
    text.split('\n')
        .map(one_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// A value one tab-separated field can hold: tabs, line breaks and other control characters
/// become spaces (see [`one_line`]).
pub fn plain(text: &str) -> String {
    one_line(text)
}

/// How a value is emphasised on a colour terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tone {
    /// No colour.
    #[default]
    Plain,
    /// Green (active).
    Good,
    /// Yellow (paused, warnings).
    Warn,
    /// Grey (absent values).
    Dim,
}

/// One table cell's text and emphasis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The text.
    pub text: String,
    /// The emphasis.
    pub tone: Tone,
    /// Right-aligned in tables (numbers).
    pub numeric: bool,
}

impl Value {
    /// A cell with no emphasis.
    pub fn new(text: impl Into<String>) -> Self {
        Value {
            text: text.into(),
            tone: Tone::Plain,
            numeric: false,
        }
    }

    /// A number, right-aligned in tables.
    pub fn number(value: impl std::fmt::Display) -> Self {
        Value {
            text: value.to_string(),
            tone: Tone::Plain,
            numeric: true,
        }
    }

    /// A cell with emphasis.
    pub fn toned(text: impl Into<String>, tone: Tone) -> Self {
        Value {
            text: text.into(),
            tone,
            numeric: false,
        }
    }
}

/// One `name value` line of a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field name (the API's name, so plain output greps like the JSON).
    pub name: &'static str,
    /// The value.
    pub value: String,
    /// The emphasis.
    pub tone: Tone,
}

impl Field {
    /// A field with no emphasis.
    pub fn new(name: &'static str, value: impl Into<String>) -> Self {
        Field {
            name,
            value: value.into(),
            tone: Tone::Plain,
        }
    }

    /// A field with emphasis.
    pub fn toned(name: &'static str, value: impl Into<String>, tone: Tone) -> Self {
        Field {
            name,
            value: value.into(),
            tone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terminal(stdout_tty: bool, no_color: bool) -> Terminal {
        Terminal {
            stdout_tty,
            stderr_tty: stdout_tty,
            stdin_tty: false,
            no_color,
        }
    }

    #[test]
    fn mode_follows_json_then_terminal() {
        assert_eq!(Ui::new(true, &terminal(true, false)).mode, OutputMode::Json);
        assert_eq!(
            Ui::new(false, &terminal(true, false)).mode,
            OutputMode::Table
        );
        assert_eq!(
            Ui::new(false, &terminal(false, false)).mode,
            OutputMode::Plain
        );
    }

    #[test]
    fn colour_needs_a_terminal_and_no_no_color() {
        assert!(Ui::new(false, &terminal(true, false)).stdout_color);
        assert!(!Ui::new(false, &terminal(true, true)).stdout_color);
        assert!(!Ui::new(false, &terminal(false, false)).stdout_color);
    }

    #[test]
    fn plain_fields_never_split_lines_or_columns() {
        assert_eq!(plain("a\tb\nc\r"), "a b c ");
    }

    const NASTY: &str = "bad\nline\r\u{1b}[2J\u{1b}]0;title\u{7}\u{9b}31m\u{202e}txt\tend";

    fn assert_terminal_safe(text: &str) {
        assert!(
            !text.chars().any(unsafe_for_terminal),
            "unsafe characters in {text:?}"
        );
    }

    #[test]
    fn one_line_replaces_every_control_character() {
        let line = one_line(NASTY);
        assert_terminal_safe(&line);
        assert_eq!(line, "bad line  [2J ]0;title  31m txt end");
        assert_eq!(one_line("commande-été-7"), "commande-été-7");
        assert_eq!(terminal_safe("a\u{1b}[1m\nb\r"), "a [1m\nb ");
    }

    #[test]
    fn error_text_is_one_safe_line_per_item() {
        for color in [false, true] {
            let ui = Ui::new(false, &terminal(true, !color));
            let text = ui.error_text(
                NASTY,
                "code\u{1b}[0m\n",
                &["  target_url: is\ninvalid\u{1b}[31m".to_string()],
            );
            assert_eq!(text.lines().count(), 2, "{text:?}");
            // The only ESC allowed is our own colouring of the `error` prefix.
            let (prefix, rest) = text.split_once(": ").unwrap();
            assert_eq!(prefix.contains('\u{1b}'), color, "{text:?}");
            assert!(!rest.contains('\u{1b}'), "{text:?}");
            assert!(
                text.ends_with("(code [0m )\n  target_url: is invalid [31m\n"),
                "{text:?}"
            );
        }
    }

    #[test]
    fn sdk_errors_with_server_text_print_on_one_safe_line() {
        // A 2xx body that does not decode: serde quotes the server's text in its message.
        let err = CliError::Sdk(heldqr_sdk::Error::Decode {
            status: 200,
            message: "unknown variant `\u{1b}[2Jgone\nfake: line`".into(),
            snippet: "{}".into(),
            idempotency_key: None,
            request_id: None,
            attempts: 1,
        });
        let described = err.describe();
        let ui = Ui::new(false, &terminal(false, true));
        let text = ui.error_text(&described.message, &described.code, &described.details);
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert_terminal_safe(text.trim_end_matches('\n'));
    }

    #[test]
    fn table_and_plain_values_are_terminal_safe() {
        for stdout_tty in [true, false] {
            let ui = Ui::new(false, &terminal(stdout_tty, true));
            let record = ui.record_text(&[Field::new("label", NASTY)]);
            let rows = ui.rows_text(
                &["LABEL", "N"],
                &[vec![Value::new(NASTY), Value::number(1)]],
            );
            for text in [record, rows] {
                assert!(
                    !text.contains('\u{1b}') && !text.contains('\u{9b}'),
                    "{text:?}"
                );
                assert!(
                    !text.contains('\u{202e}') && !text.contains('\r'),
                    "{text:?}"
                );
                let expected_lines = if stdout_tty { text.lines().count() } else { 1 };
                assert_eq!(text.lines().count(), expected_lines);
            }
        }
        // A table cell stays on one line: the table is as tall as with a harmless value.
        let ui = Ui::new(false, &terminal(true, true));
        assert_eq!(
            ui.record_text(&[Field::new("label", NASTY)])
                .lines()
                .count(),
            ui.record_text(&[Field::new("label", "x")]).lines().count()
        );
    }

    #[test]
    fn paint_only_when_enabled() {
        let style = Style::new().bold();
        assert_eq!(paint("x", style, false), "x");
        assert!(paint("x", style, true).contains("\u{1b}["));
    }
}
