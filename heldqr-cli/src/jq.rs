//! `--jq EXPR`: a jq filter applied to the JSON a command prints, evaluated by jaq (a jq
//! implementation from crates.io), as `gh --jq` does.
//!
//! The expression is compiled once, before any request is sent, so a bad one is a usage error
//! (exit 2) that has changed nothing. Each result is printed on its own line: a string raw
//! (without quotes or escapes), anything else as compact JSON. All results are computed before
//! any is printed, so a filter that fails part-way (`.[] | .x` over a string) prints nothing.

use std::fmt;

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data, unwrap_valr};
use jaq_json::Val;

use crate::error::CliError;

type Filter = jaq_core::compile::Filter<jaq_core::Native<data::JustLut<Val>>>;

/// A compiled `--jq` expression.
pub struct Jq {
    expr: &'static str,
    filter: Filter,
}

impl fmt::Debug for Jq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Jq").field(&self.expr).finish()
    }
}

impl Jq {
    /// Compiles `expr`; a syntax error or an unknown filter is a usage error naming it.
    pub fn compile(expr: &str) -> Result<Jq, CliError> {
        // The filter borrows its source and arena for as long as it lives; one filter per
        // process run, so both are leaked instead of threading a lifetime through the output.
        let expr: &'static str = Box::leak(expr.to_owned().into_boxed_str());
        let arena: &'static Arena = Box::leak(Box::default());
        let defs = jaq_core::defs()
            .chain(jaq_std::defs())
            .chain(jaq_json::defs())
            .chain(format_defs());
        let funs = jaq_core::funs()
            .chain(jaq_std::funs())
            .chain(jaq_json::funs());
        let modules = Loader::new(defs)
            .load(
                arena,
                File {
                    code: expr,
                    path: (),
                },
            )
            .map_err(|errors| {
                let problems: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, error)| load_error_messages(error))
                    .collect();
                bad_expression(expr, &problems)
            })?;
        let filter = Compiler::default()
            .with_funs(funs)
            .compile(modules)
            .map_err(|errors| {
                let problems: Vec<String> = errors
                    .into_iter()
                    .flat_map(|(_, undefined)| undefined)
                    .map(|(name, kind)| format!("undefined {} {name}", undefined_kind(&kind)))
                    .collect();
                bad_expression(expr, &problems)
            })?;
        Ok(Jq { expr, filter })
    }

    /// Runs the filter on `json` (one JSON document) and returns the text to print: one line
    /// per result, strings raw. A runtime error (indexing a string, say) is an error and no
    /// text.
    pub fn apply(&self, json: &[u8]) -> Result<String, CliError> {
        let input = jaq_json::read::parse_single(json)
            .map_err(|err| CliError::Other(format!("--jq: cannot read the JSON: {err}")))?;
        let ctx = Ctx::<data::JustLut<Val>>::new(&self.filter.lut, Vars::new([]));
        let mut text = String::new();
        for result in self.filter.id.run((ctx, input)).map(unwrap_valr) {
            let value = result
                .map_err(|err| CliError::Other(format!("--jq {:?} failed: {err}", self.expr)))?;
            match &value {
                Val::TStr(bytes) => text.push_str(&String::from_utf8_lossy(bytes)),
                other => text.push_str(&other.to_string()),
            }
            text.push('\n');
        }
        Ok(text)
    }
}

/// jq's `@csv` and `@tsv`, which jaq's libraries leave to its binary: written in jq itself,
/// with jq's rules (strings quoted with `""` doubled, or tab, newline, return and backslash
/// escaped; null empty; numbers and booleans as text; anything else an error).
const FORMAT_DEFS: &str = r#"
def @csv: if type != "array" then error("@csv needs an array") else
  map(if type == "string" then "\"" + gsub("\""; "\"\"") + "\""
      elif type == "null" then ""
      elif type == "number" or type == "boolean" then tojson
      else error("@csv: \(type) is not valid in a csv row") end) | join(",") end;
def @tsv: if type != "array" then error("@tsv needs an array") else
  map(if type == "string" then gsub("\\\\"; "\\\\") | gsub("\t"; "\\t") | gsub("\n"; "\\n") | gsub("\r"; "\\r")
      elif type == "null" then ""
      elif type == "number" or type == "boolean" then tojson
      else error("@tsv: \(type) is not valid in a tsv row") end) | join("\t") end;
"#;

fn format_defs() -> impl Iterator<Item = jaq_core::load::parse::Def<&'static str>> {
    // Parsed from a constant pinned by the tests below: never None in a release.
    jaq_core::load::parse(FORMAT_DEFS, |p| p.defs())
        .unwrap_or_default()
        .into_iter()
}

fn bad_expression(expr: &str, problems: &[String]) -> CliError {
    let detail = if problems.is_empty() {
        "it does not parse".to_string()
    } else {
        problems.join("; ")
    };
    CliError::Usage(format!(
        "--jq {expr:?} is not a valid jq expression: {detail}"
    ))
}

fn load_error_messages(error: jaq_core::load::Error<&str>) -> Vec<String> {
    use jaq_core::load::Error;
    match error {
        Error::Io(errors) => errors
            .into_iter()
            .map(|(path, e)| format!("{path}: {e}"))
            .collect(),
        Error::Lex(errors) => errors
            .into_iter()
            .map(|(expect, at)| format!("expected {} at {}", lex_expect(&expect), near(at)))
            .collect(),
        Error::Parse(errors) => errors
            .into_iter()
            .map(|(expect, at)| format!("expected {} at {}", expect.as_str(), near(at)))
            .collect(),
    }
}

/// What the lexer expected (jaq's own wording, without its one panicking case).
fn lex_expect(expect: &jaq_core::load::lex::Expect<&str>) -> &'static str {
    use jaq_core::load::lex::Expect;
    match expect {
        Expect::Delim("(" | "[" | "{" | "\"") => expect.as_str(),
        Expect::Delim(_) => "closing delimiter",
        other => other.as_str(),
    }
}

/// The text where parsing stopped, shortened.
fn near(at: &str) -> String {
    let at: String = at.chars().take(20).collect();
    if at.is_empty() {
        "the end".to_string()
    } else {
        format!("{at:?}")
    }
}

fn undefined_kind(kind: &jaq_core::compile::Undefined) -> &'static str {
    use jaq_core::compile::Undefined;
    match kind {
        Undefined::Mod => "module",
        Undefined::Var => "variable",
        Undefined::Label => "label",
        Undefined::Filter(_) => "filter",
        _ => "name",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str, json: &str) -> String {
        Jq::compile(expr).unwrap().apply(json.as_bytes()).unwrap()
    }

    #[test]
    fn strings_print_raw_one_a_line_other_values_as_compact_json() {
        let doc =
            r#"[{"shortcode":"a-1","n":1,"label":null},{"shortcode":"b\"2","n":2,"label":"x"}]"#;
        assert_eq!(run(".[].shortcode", doc), "a-1\nb\"2\n");
        assert_eq!(
            run(".[0]", doc),
            "{\"shortcode\":\"a-1\",\"n\":1,\"label\":null}\n"
        );
        assert_eq!(run("map(.n) | add", doc), "3\n");
        assert_eq!(run(".[] | select(.n > 1) | .label", doc), "x\n");
        assert_eq!(run("length", doc), "2\n");
        assert_eq!(run("empty", doc), "");
    }

    #[test]
    fn formats_and_regex_are_there() {
        let doc = r#"[{"a":"x","b":"y z"}]"#;
        assert_eq!(run(".[] | [.a, .b] | @tsv", doc), "x\ty z\n");
        assert_eq!(run(".[] | [.a, .b] | @csv", doc), "\"x\",\"y z\"\n");
        assert_eq!(run(".[] | .b | test(\"^y\")", doc), "true\n");
    }

    #[test]
    fn csv_and_tsv_follow_jq() {
        let doc = r#"["a\"b", null, 1.5, true, "t\tab\nnl\\"]"#;
        assert_eq!(run("@csv", doc), "\"a\"\"b\",,1.5,true,\"t\tab\nnl\\\"\n");
        assert_eq!(run("@tsv", doc), "a\"b\t\t1.5\ttrue\tt\\tab\\nnl\\\\\n");
        assert!(Jq::compile("@csv").unwrap().apply(b"[[1]]").is_err());
        assert!(Jq::compile("@tsv").unwrap().apply(b"{}").is_err());
    }

    #[test]
    fn bad_expressions_are_usage_errors() {
        for bad in [
            ".[",
            "foo_bar_undefined",
            "$nope",
            "if . then 1",
            ".a |",
            "\"\\x\"",
        ] {
            match Jq::compile(bad) {
                Err(CliError::Usage(message)) => {
                    assert!(message.contains("not a valid jq expression"), "{message}")
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_runtime_error_prints_nothing() {
        let jq = Jq::compile(".[] | .x").unwrap();
        assert!(matches!(
            jq.apply(br#"[{"x":1},"str"]"#),
            Err(CliError::Other(_))
        ));
    }
}
