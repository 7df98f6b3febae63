//! Reports on stdout: aligned tables for people, JSON and YAML for scripts.
//! Colour only marks what a symbol already says (`●`, `✗`, ...), so
//! nothing is lost without it; it is on for `--color always`, or for
//! `auto` when stdout is a terminal and `NO_COLOR` is unset.

use std::io::IsTerminal;

use serde::Serialize;

use crate::cli::{ColorChoice, Format};
use crate::Error;

/// A cell: its text, and the colour for it when colour is on.
#[derive(Debug, Clone)]
pub struct Cell {
    pub text: String,
    pub color: Option<Color>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Green,
    Yellow,
    Red,
}

impl Color {
    fn code(self) -> &'static str {
        match self {
            Color::Green => "32",
            Color::Yellow => "33",
            Color::Red => "31",
        }
    }
}

impl From<String> for Cell {
    fn from(text: String) -> Cell {
        Cell { text, color: None }
    }
}

impl From<&str> for Cell {
    fn from(text: &str) -> Cell {
        Cell::from(text.to_string())
    }
}

impl Cell {
    /// The cell's text, coloured when `color` is on.
    pub fn render(&self, color: bool) -> String {
        match (color, self.color) {
            (true, Some(k)) => format!("\x1b[{}m{}\x1b[0m", k.code(), self.text),
            _ => self.text.clone(),
        }
    }
}

pub fn colored(text: impl Into<String>, color: Color) -> Cell {
    Cell {
        text: text.into(),
        color: Some(color),
    }
}

/// Whether to colour stdout.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    }
}

/// Renders rows under a header, columns padded to their widest cell.
pub fn table(header: &[&str], rows: &[Vec<Cell>], color: bool) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.text.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<Cell>, out: &mut String| {
        let last = cells.len() - 1;
        for (i, c) in cells.into_iter().enumerate() {
            let pad = if i == last {
                0
            } else {
                widths[i] - c.text.chars().count() + 2
            };
            out.push_str(&c.render(color));
            out.push_str(&" ".repeat(pad));
        }
        out.push('\n');
    };
    line(header.iter().map(|h| Cell::from(*h)).collect(), &mut out);
    for row in rows {
        line(row.clone(), &mut out);
    }
    out
}

/// Prints a verdict: for `-o table` the summary line, then (unless `-q`
/// or there are no rows) the table; for `-o json|yaml` the whole `value`.
pub fn print_verdict<T: Serialize>(
    cli: &crate::cli::Cli,
    summary: &str,
    header: &[&str],
    rows: &[Vec<Cell>],
    value: &T,
) -> Result<(), Error> {
    match cli.output {
        Format::Table => {
            println!("{summary}");
            if !cli.quiet && !rows.is_empty() {
                print!("{}", table(header, rows, use_color(cli.color)));
            }
        }
        f => print!("{}", structured(value, f)?),
    }
    Ok(())
}

/// Serializes `value` as JSON or YAML (for `-o json|yaml`).
pub fn structured<T: Serialize>(value: &T, format: Format) -> Result<String, Error> {
    match format {
        Format::Json => serde_json::to_string_pretty(value)
            .map(|s| s + "\n")
            .map_err(|e| Error::Failed(format!("cannot encode JSON: {e}"))),
        Format::Yaml => serde_norway::to_string(value)
            .map_err(|e| Error::Failed(format!("cannot encode YAML: {e}"))),
        Format::Table => unreachable!("tables are rendered by each command"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_plain_text_and_colour_only_when_asked() {
        let rows = vec![
            vec![
                Cell::from("node-1"),
                colored("● Leader", Color::Green),
                Cell::from("4"),
            ],
            vec![Cell::from("n2"), Cell::from("○ Follower"), Cell::from("12")],
        ];
        let plain = table(&["NODE", "STATE", "TERM"], &rows, false);
        assert_eq!(
            plain,
            "NODE    STATE       TERM\nnode-1  ● Leader    4\nn2      ○ Follower  12\n"
        );
        let tinted = table(&["NODE", "STATE", "TERM"], &rows, true);
        assert!(tinted.contains("\x1b[32m● Leader\x1b[0m    4"));
        assert!(!plain.contains('\x1b'));
    }
}
