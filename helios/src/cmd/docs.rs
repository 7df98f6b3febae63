//! `COMMAND DOCS`: documentation generated from each command's syntax line.
//!
//! The syntax line uses the notation of Redis's documentation
//! (`key [NX | XX] [EX seconds | PX milliseconds] [key ...]`). It is parsed
//! into the argument tree Redis returns (`name`, `type`, `token`, `flags`,
//! nested `arguments` for `oneof` and `block`), which interactive
//! `redis-cli` uses for its hints.

use super::table::Command;
use crate::resp::Out;

#[derive(Debug, Clone, PartialEq)]
struct Arg {
    name: String,
    kind: &'static str,
    token: Option<String>,
    optional: bool,
    multiple: bool,
    children: Vec<Arg>,
}

fn arg_type(name: &str) -> &'static str {
    match name {
        "key" | "key1" | "key2" | "newkey" | "source" | "destination" => "key",
        "seconds"
        | "milliseconds"
        | "unix-time-seconds"
        | "unix-time-milliseconds"
        | "count"
        | "index"
        | "index1"
        | "index2"
        | "offset"
        | "start"
        | "end"
        | "increment"
        | "decrement"
        | "cursor"
        | "numreplicas"
        | "timeout"
        | "destination-db"
        | "db"
        | "min-match-len"
        | "client-id"
        | "maxage"
        | "protover" => "integer",
        "pattern" => "pattern",
        _ => "string",
    }
}

fn is_token(w: &str) -> bool {
    w.chars().any(|c| c.is_ascii_uppercase()) && !w.chars().any(|c| c.is_ascii_lowercase())
}

/// Splits `[`, `]`, `|` and `...` off the words.
fn lex(syntax: &str) -> Vec<String> {
    let spaced = syntax
        .replace('[', " [ ")
        .replace(']', " ] ")
        .replace('|', " | ")
        .replace("...", " ... ");
    spaced.split_whitespace().map(str::to_string).collect()
}

/// Parses a sequence until `]`, `|` or the end.
fn parse_seq(toks: &[String], i: &mut usize) -> Vec<Arg> {
    let mut out: Vec<Arg> = Vec::new();
    while *i < toks.len() {
        let t = toks[*i].as_str();
        match t {
            "]" | "|" => break,
            "..." => {
                if let Some(last) = out.last_mut() {
                    last.multiple = true;
                }
                *i += 1;
            }
            "[" => {
                *i += 1;
                let mut alts = vec![parse_seq(toks, i)];
                while *i < toks.len() && toks[*i] == "|" {
                    *i += 1;
                    alts.push(parse_seq(toks, i));
                }
                if *i < toks.len() && toks[*i] == "]" {
                    *i += 1;
                }
                // `[key ...]` right after `key` means "more keys".
                let repeat = alts.len() == 1
                    && alts[0].len() == 1
                    && alts[0][0].multiple
                    && out.last().is_some_and(|l| l.name == alts[0][0].name);
                if repeat {
                    if let Some(l) = out.last_mut() {
                        l.multiple = true;
                    }
                    continue;
                }
                let mut group = group_of(alts);
                group.optional = true;
                out.push(group);
            }
            _ => {
                *i += 1;
                if is_token(t) {
                    let next_is_value = toks.get(*i).is_some_and(|n| {
                        !is_token(n) && !matches!(n.as_str(), "[" | "]" | "|" | "...")
                    });
                    if next_is_value {
                        let v = toks[*i].clone();
                        *i += 1;
                        out.push(Arg {
                            kind: arg_type(&v),
                            name: v,
                            token: Some(t.to_string()),
                            optional: false,
                            multiple: false,
                            children: vec![],
                        });
                    } else {
                        out.push(Arg {
                            name: t.to_ascii_lowercase(),
                            kind: "pure-token",
                            token: Some(t.to_string()),
                            optional: false,
                            multiple: false,
                            children: vec![],
                        });
                    }
                } else {
                    out.push(Arg {
                        name: t.to_string(),
                        kind: arg_type(t),
                        token: None,
                        optional: false,
                        multiple: false,
                        children: vec![],
                    });
                }
            }
        }
    }
    out
}

/// One alternative of a group: a single argument, or a `block` of several.
fn seq_arg(seq: Vec<Arg>) -> Arg {
    if seq.len() == 1 {
        return seq.into_iter().next().expect("one element");
    }
    Arg {
        name: "block".into(),
        kind: "block",
        token: None,
        optional: false,
        multiple: false,
        children: seq,
    }
}

fn group_of(mut alts: Vec<Vec<Arg>>) -> Arg {
    if alts.len() == 1 {
        return seq_arg(alts.remove(0));
    }
    Arg {
        name: "oneof".into(),
        kind: "oneof",
        token: None,
        optional: false,
        multiple: false,
        children: alts.into_iter().map(seq_arg).collect(),
    }
}

fn parse(syntax: &str) -> Vec<Arg> {
    let toks = lex(syntax);
    let mut i = 0;
    let mut all = Vec::new();
    while i < toks.len() {
        let mut alts = vec![parse_seq(&toks, &mut i)];
        while i < toks.len() && toks[i] == "|" {
            i += 1;
            alts.push(parse_seq(&toks, &mut i));
        }
        if alts.len() > 1 {
            all.push(group_of(alts));
        } else {
            all.extend(alts.remove(0));
        }
        if i < toks.len() && toks[i] == "]" {
            i += 1;
        }
    }
    all
}

fn write_arg(out: &mut Out, a: &Arg) {
    let mut fields = 2;
    let flags: Vec<&str> = [("optional", a.optional), ("multiple", a.multiple)]
        .iter()
        .filter(|(_, on)| *on)
        .map(|(n, _)| *n)
        .collect();
    fields +=
        a.token.is_some() as usize + !flags.is_empty() as usize + !a.children.is_empty() as usize;
    out.map(fields);
    out.bulk(b"name");
    out.bulk(a.name.as_bytes());
    out.bulk(b"type");
    out.bulk(a.kind.as_bytes());
    if let Some(t) = &a.token {
        out.bulk(b"token");
        out.bulk(t.as_bytes());
    }
    if !flags.is_empty() {
        out.bulk(b"flags");
        out.array(flags.len());
        for f in flags {
            out.simple(f);
        }
    }
    if !a.children.is_empty() {
        out.bulk(b"arguments");
        out.array(a.children.len());
        for c in &a.children {
            write_arg(out, c);
        }
    }
}

/// Writes one command's docs map.
pub fn write_docs(out: &mut Out, c: &Command) {
    let args = parse(c.syntax);
    let mut fields = 4;
    fields += !args.is_empty() as usize + !c.subcommands.is_empty() as usize;
    out.map(fields);
    out.bulk(b"summary");
    out.bulk(c.summary.as_bytes());
    out.bulk(b"since");
    out.bulk(c.since.as_bytes());
    out.bulk(b"group");
    out.bulk(c.group.as_bytes());
    out.bulk(b"complexity");
    out.bulk(c.complexity.as_bytes());
    if !args.is_empty() {
        out.bulk(b"arguments");
        out.array(args.len());
        for a in &args {
            write_arg(out, a);
        }
    }
    if !c.subcommands.is_empty() {
        out.bulk(b"subcommands");
        out.map(c.subcommands.len());
        for s in c.subcommands {
            out.bulk(s.full_name.as_bytes());
            write_docs(out, s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_syntax_becomes_redis_argument_tree() {
        let args = parse("key value [NX | XX] [GET] [EX seconds | PX milliseconds | KEEPTTL]");
        assert_eq!(args.len(), 5);
        assert_eq!((args[0].name.as_str(), args[0].kind), ("key", "key"));
        assert_eq!(args[2].kind, "oneof");
        assert!(args[2].optional);
        assert_eq!(args[2].children[0].token.as_deref(), Some("NX"));
        assert_eq!((args[3].kind, args[3].optional), ("pure-token", true));
        let ex = &args[4].children[0];
        assert_eq!(
            (ex.name.as_str(), ex.kind, ex.token.as_deref()),
            ("seconds", "integer", Some("EX"))
        );
        assert_eq!(args[4].children[2].kind, "pure-token");
    }

    #[test]
    fn repeated_keys_are_multiple() {
        let args = parse("key [key ...]");
        assert_eq!(args.len(), 1);
        assert!(args[0].multiple && !args[0].optional);
        let args = parse("key value [key value ...]");
        assert_eq!(args.len(), 3);
        assert_eq!(args[2].kind, "block");
        assert!(args[2].multiple || args[2].children.iter().any(|c| c.multiple));
    }
}
