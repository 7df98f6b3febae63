//! The command table: one [`Command`] per command, collected from the
//! family files, and the case-insensitive lookup used by dispatch.

use std::collections::HashMap;
use std::sync::LazyLock;

use bytes::Bytes;

use super::{CmdResult, Ctx};

/// Command flags, as `COMMAND INFO` names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NOSCRIPT: u32 = 1 << 4;
    pub const LOADING: u32 = 1 << 5;
    pub const STALE: u32 = 1 << 6;
    pub const FAST: u32 = 1 << 7;
    pub const NO_AUTH: u32 = 1 << 8;
    pub const BLOCKING: u32 = 1 << 9;
    pub const NO_MULTI: u32 = 1 << 10;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (BLOCKING, "blocking"),
        (NO_MULTI, "no_multi"),
    ];
}

pub use flags as Flags;

pub type Handler = fn(&mut Ctx, &[Bytes]) -> CmdResult;

/// One command's metadata and handler.
#[derive(Clone, Copy)]
pub struct Command {
    /// Lower-case name (`get`; for a subcommand, `get` of `config|get`).
    pub name: &'static str,
    /// `config|get` for subcommands, else the name.
    pub full_name: &'static str,
    /// Redis arity: N exactly, or -N for at least N (name included).
    pub arity: i32,
    pub flags: u32,
    /// First key, last key (-1 = last argument), step; 0 when keyless.
    pub keys: (i32, i32, i32),
    /// Group in `COMMAND DOCS` (`string`, `generic`, `server`, ...).
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub complexity: &'static str,
    /// Argument grammar in the notation of Redis's docs:
    /// `key value [NX | XX] [EX seconds | PX milliseconds]`.
    pub syntax: &'static str,
    pub subcommands: &'static [Command],
    pub run: Handler,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.full_name)
    }
}

fn container(_: &mut Ctx, _: &[Bytes]) -> CmdResult {
    // Dispatch always resolves a container to one of its subcommands.
    Err("ERR missing subcommand".into())
}

impl Command {
    /// Defaults for the struct-update syntax in family tables.
    pub const BASE: Command = Command {
        name: "",
        full_name: "",
        arity: 1,
        flags: 0,
        keys: (0, 0, 0),
        group: "generic",
        since: "1.0.0",
        summary: "",
        complexity: "O(1)",
        syntax: "",
        subcommands: &[],
        run: container,
    };

    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity;
        (a >= 0 && argc == a as usize) || (a < 0 && argc >= (-a) as usize)
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Positions of the keys in `args`, from the key spec.
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.keys;
        if first <= 0 || argc as i32 <= first {
            return Vec::new();
        }
        let last = if last < 0 {
            argc as i32 + last
        } else {
            last.min(argc as i32 - 1)
        };
        (first..=last)
            .step_by(step.max(1) as usize)
            .map(|i| i as usize)
            .collect()
    }
}

/// Every top-level command.
pub static COMMANDS: LazyLock<Vec<&'static Command>> = LazyLock::new(|| {
    super::strings::COMMANDS
        .iter()
        .chain(super::hash::COMMANDS)
        .chain(super::set::COMMANDS)
        .chain(super::list::COMMANDS)
        .chain(super::zset::COMMANDS)
        .chain(super::multi::COMMANDS)
        .chain(super::pubsub::COMMANDS)
        .chain(super::keys::COMMANDS)
        .chain(super::server::COMMANDS)
        .chain(super::slowlog::COMMANDS)
        .chain(super::conn::COMMANDS)
        .chain(super::raft::COMMANDS)
        .collect()
});

static BY_NAME: LazyLock<HashMap<&'static str, &'static Command>> =
    LazyLock::new(|| COMMANDS.iter().map(|c| (c.name, *c)).collect());

/// Case-insensitive lookup of a top-level command.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    if name.len() > 32 {
        return None;
    }
    let mut buf = [0u8; 32];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    BY_NAME.get(std::str::from_utf8(lower).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        let mut seen = std::collections::HashSet::new();
        for c in COMMANDS.iter() {
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(!c.summary.is_empty(), "{} has no summary", c.name);
            assert_ne!(c.arity, 0, "{}", c.name);
            for s in c.subcommands {
                assert_eq!(s.full_name, format!("{}|{}", c.name, s.name));
                assert!(s.arity.unsigned_abs() >= 2, "{}", s.full_name);
            }
            if c.subcommands.is_empty() {
                assert_eq!(c.full_name, c.name);
            }
            assert!(
                !(c.has(flags::WRITE) && c.has(flags::READONLY)),
                "{} is both write and readonly",
                c.name
            );
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup(b"GeT").unwrap().name, "get");
        assert!(lookup(b"nosuchcommand").is_none());
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let mset = lookup(b"mset").unwrap();
        assert_eq!(mset.key_positions(5), vec![1, 3]);
        let del = lookup(b"del").unwrap();
        assert_eq!(del.key_positions(4), vec![1, 2, 3]);
        assert!(lookup(b"ping").unwrap().key_positions(1).is_empty());
    }
}
