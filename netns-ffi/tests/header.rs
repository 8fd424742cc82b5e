//! include/netns.h must be exactly what cbindgen generates from this crate,
//! and tests/abi/generated.rs (the table of every exported function that
//! tests/abi_rows.rs drives) exactly what this file generates from that
//! header. Regenerate both with
//! `NETNS_BLESS=1 cargo test -p netns-ffi --test header`.
//!
//! Also: every `#[no_mangle]` function in netns-ffi/src is in the header
//! (nothing escapes the header, so nothing escapes the generated rows).

netns_testutil::host_only!("header drift check (cbindgen), no kernel involved");

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var_os("NETNS_BLESS").is_some()
}

/// The header as cbindgen generates it now (once per test process).
fn fresh_header() -> &'static str {
    static FRESH: OnceLock<String> = OnceLock::new();
    FRESH.get_or_init(|| {
        let crate_dir = crate_dir();
        let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
        let bindings = cbindgen::Builder::new()
            .with_crate(&crate_dir)
            .with_config(config)
            .generate()
            .expect("cbindgen generates the header");
        let mut fresh = Vec::new();
        bindings.write(&mut fresh);
        String::from_utf8(fresh).expect("the header is UTF-8")
    })
}

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let fresh = fresh_header();
    let header = crate_dir().join("../include/netns.h");
    if bless() {
        std::fs::write(&header, fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(&header).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/netns.h is out of date: regenerate it with \
         `NETNS_BLESS=1 cargo test -p netns-ffi --test header` and commit it"
    );
}

#[test]
fn checked_in_function_table_matches_the_header() {
    let fresh = generate_table(&parse_prototypes(fresh_header()));
    let table = crate_dir().join("tests/abi/generated.rs");
    if bless() {
        std::fs::create_dir_all(table.parent().unwrap()).unwrap();
        std::fs::write(&table, &fresh).unwrap();
    }
    let checked_in = std::fs::read_to_string(&table).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "tests/abi/generated.rs is out of date with include/netns.h: regenerate it with \
         `NETNS_BLESS=1 cargo test -p netns-ffi --test header` and commit it"
    );
}

#[test]
fn every_no_mangle_export_is_in_the_header() {
    let header: BTreeSet<String> = parse_prototypes(fresh_header())
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut exports = BTreeSet::new();
    let mut files = Vec::new();
    rust_files(&crate_dir().join("src"), &mut files);
    assert!(!files.is_empty());
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in no_mangle_fns(&text) {
            exports.insert(name);
        }
    }
    assert!(exports.len() > 10, "found only {exports:?} in {files:?}");
    let missing: Vec<_> = exports.difference(&header).collect();
    assert!(
        missing.is_empty(),
        "exported from netns-ffi/src but not in include/netns.h: {missing:?}"
    );
    let unexported: Vec<_> = header.difference(&exports).collect();
    assert!(
        unexported.is_empty(),
        "in include/netns.h but not a #[no_mangle] fn of netns-ffi/src: {unexported:?}"
    );
    // Every export is named with the prefix.
    for name in &exports {
        assert!(name.starts_with("netns_"), "{name} lacks the netns_ prefix");
    }
}

#[test]
fn the_prototype_parser_reads_cbindgens_shapes() {
    let text = "/** doc (with a paren; and a semicolon) */\n\
                typedef struct netns_x netns_x;\n\
                #ifdef __cplusplus\nextern \"C\" {\n#endif // __cplusplus\n\
                const char *netns_version(void);\n\
                int32_t netns_spawn(const char *netns_path,\n    const char *const *argv,\n    \
                int32_t *out_pid,\n    netns_error **err);\n\
                #ifdef __cplusplus\n}  // extern \"C\"\n#endif  // __cplusplus\n";
    let p = parse_prototypes(text);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        (p[0].ret.as_str(), p[0].name.as_str(), p[0].params.len()),
        ("const char *", "netns_version", 0)
    );
    let params: Vec<_> = p[1]
        .params
        .iter()
        .map(|(t, n)| format!("{t}|{n}"))
        .collect();
    assert_eq!(
        params,
        [
            "const char *|netns_path",
            "const char *const *|argv",
            "int32_t *|out_pid",
            "netns_error **|err"
        ]
    );
    assert_eq!(rust_type("const char *const *"), "*const *const c_char");
    assert_eq!(rust_type("netns_error **"), "*mut *mut netns_error");
    assert_eq!(rust_type("const netns_handle *"), "*const netns_handle");
    assert_eq!(rust_type("char **"), "*mut *mut c_char");
    assert_eq!(rust_type("uint16_t"), "u16");
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out.sort();
}

/// The names of the functions marked `#[no_mangle]` (or
/// `#[unsafe(no_mangle)]`) in Rust source: the first `fn NAME` after the
/// attribute.
fn no_mangle_fns(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("no_mangle") {
        rest = &rest[at + "no_mangle".len()..];
        let Some(f) = rest.find("fn ") else { break };
        let name: String = rest[f + 3..]
            .trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        names.push(name);
    }
    names
}

/// One C prototype: return type, name, parameters (C type, name). Types are
/// normalised: `const char *const *`, `netns_error **`.
#[derive(Debug)]
struct Prototype {
    ret: String,
    name: String,
    params: Vec<(String, String)>,
}

fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        let block = rest.find("/*").unwrap_or(usize::MAX);
        let line = rest.find("//").unwrap_or(usize::MAX);
        if block == usize::MAX && line == usize::MAX {
            out.push_str(rest);
            return out;
        }
        if block < line {
            out.push_str(&rest[..block]);
            let end = rest[block + 2..].find("*/").expect("unterminated comment");
            rest = &rest[block + 2 + end + 2..];
            out.push(' ');
        } else {
            out.push_str(&rest[..line]);
            rest = rest[line..].find('\n').map_or("", |n| &rest[line + n..]);
        }
    }
}

/// The function prototypes of a cbindgen header, in header order.
fn parse_prototypes(header: &str) -> Vec<Prototype> {
    let code: String = strip_comments(header)
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    for stmt in code.split(';') {
        // Drop what precedes the statement in the same chunk (`extern "C" {`,
        // a closing brace).
        let stmt = stmt.rsplit(['{', '}']).next().unwrap().trim();
        if stmt.is_empty() || stmt.starts_with("typedef") || !stmt.contains('(') {
            continue;
        }
        let open = stmt.find('(').unwrap();
        let close = stmt.rfind(')').expect("a prototype ends with ')'");
        assert!(
            stmt[close + 1..].trim().is_empty(),
            "unexpected text after a prototype: {stmt:?}"
        );
        let (ret, name) = split_decl(&stmt[..open]);
        let inner = stmt[open + 1..close].trim();
        let params = if inner == "void" || inner.is_empty() {
            Vec::new()
        } else {
            inner.split(',').map(split_decl).collect()
        };
        assert!(
            !ret.is_empty() && !name.is_empty(),
            "cannot read prototype {stmt:?}"
        );
        for (t, n) in &params {
            assert!(
                !t.is_empty() && !n.is_empty(),
                "cannot read a parameter of {stmt:?}"
            );
        }
        out.push(Prototype { ret, name, params });
    }
    out
}

/// `const char *const *argv` -> ("const char *const *", "argv").
fn split_decl(decl: &str) -> (String, String) {
    let tokens = tokenize(decl);
    let (name, ty) = tokens.split_last().expect("an empty declaration");
    assert!(
        name.chars().all(|c| c.is_alphanumeric() || c == '_'),
        "no name in declaration {decl:?}"
    );
    (join_type(ty), name.clone())
}

fn tokenize(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for word in s.split_whitespace() {
        let mut cur = String::new();
        for c in word.chars() {
            if c == '*' {
                if !cur.is_empty() {
                    tokens.push(std::mem::take(&mut cur));
                }
                tokens.push("*".into());
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            tokens.push(cur);
        }
    }
    tokens
}

fn join_type(tokens: &[String]) -> String {
    let mut out = String::new();
    let mut prev_star = false;
    for (i, t) in tokens.iter().enumerate() {
        let star = t == "*";
        if i > 0 && !prev_star {
            out.push(' ');
        }
        out.push_str(t);
        prev_star = star;
    }
    out
}

/// The Rust type of a (normalised) C type, as netns-ffi declares it.
fn rust_type(c: &str) -> String {
    let tokens = tokenize(c);
    let first_star = tokens.iter().position(|t| t == "*").unwrap_or(tokens.len());
    let base: Vec<&str> = tokens[..first_star].iter().map(String::as_str).collect();
    let mut is_const = base.contains(&"const");
    let base: Vec<&str> = base.into_iter().filter(|t| *t != "const").collect();
    assert_eq!(base.len(), 1, "unsupported C type {c:?}");
    let mut rust = match base[0] {
        "void" => "c_void",
        "char" => "c_char",
        "bool" => "bool",
        "int" => "c_int",
        "int8_t" => "i8",
        "uint8_t" => "u8",
        "int16_t" => "i16",
        "uint16_t" => "u16",
        "int32_t" => "i32",
        "uint32_t" => "u32",
        "int64_t" => "i64",
        "uint64_t" => "u64",
        "size_t" => "usize",
        "ssize_t" => "isize",
        t if t.starts_with("netns_") => t,
        t => panic!("unsupported C base type {t:?} in {c:?}: teach tests/header.rs rust_type"),
    }
    .to_owned();
    let mut i = first_star;
    while i < tokens.len() {
        assert_eq!(tokens[i], "*", "unsupported C type {c:?}");
        rust = format!("*{} {rust}", if is_const { "const" } else { "mut" });
        is_const = tokens.get(i + 1).is_some_and(|t| t == "const");
        i += if is_const { 2 } else { 1 };
    }
    assert!(
        !is_const || !c.ends_with("const"),
        "top-level const in {c:?}"
    );
    rust
}

/// The Rust source of tests/abi/generated.rs.
fn generate_table(protos: &[Prototype]) -> String {
    let mut s = String::new();
    s.push_str(
        "// Generated by netns-ffi/tests/header.rs from include/netns.h. Do not edit:\n\
         // regenerate with NETNS_BLESS=1 cargo test -p netns-ffi --test header.\n\
         //\n\
         // Every function of the header: its return type, its parameters (C type\n\
         // and name) and a typed call of the real export, each argument cast from\n\
         // `usize` to its declared type (pointers from their address, integers\n\
         // by `as`, bool from != 0). tests/abi_rows.rs drives the rows from it.\n\
         #![allow(dead_code, clippy::all)]\n\
         \n\
         use std::ffi::{c_char, c_int, c_void};\n\
         \n\
         use netns::*;\n\
         \n\
         /// What a call returned.\n\
         #[derive(Debug, Clone, Copy, PartialEq, Eq)]\n\
         pub enum Ret {\n    \
             Void,\n    \
             Int(i64),\n    \
             Bool(bool),\n    \
             Ptr(usize),\n\
         }\n\
         \n\
         /// A parameter: its C type (normalised: `const char *const *`) and name.\n\
         #[derive(Debug)]\n\
         pub struct Param {\n    \
             pub ty: &'static str,\n    \
             pub name: &'static str,\n\
         }\n\
         \n\
         /// An exported function.\n\
         pub struct Function {\n    \
             pub name: &'static str,\n    \
             pub ret: &'static str,\n    \
             pub params: &'static [Param],\n    \
             /// Calls the export with `args[i]` as parameter `i`.\n    \
             pub call: fn(&[usize]) -> Ret,\n\
         }\n\
         \n\
         /// Every function of include/netns.h, in header order.\n\
         pub static FUNCTIONS: &[Function] = &[\n",
    );
    for p in protos {
        let _ = writeln!(s, "    Function {{");
        let _ = writeln!(s, "        name: {:?},", p.name);
        let _ = writeln!(s, "        ret: {:?},", p.ret);
        if p.params.is_empty() {
            let _ = writeln!(s, "        params: &[],");
        } else {
            let _ = writeln!(s, "        params: &[");
            for (t, n) in &p.params {
                let _ = writeln!(s, "            Param {{ ty: {t:?}, name: {n:?} }},");
            }
            let _ = writeln!(s, "        ],");
        }
        let _ = writeln!(s, "        call: call_{},", p.name);
        let _ = writeln!(s, "    }},");
    }
    s.push_str("];\n");
    for p in protos {
        let n = p.params.len();
        let _ = writeln!(s);
        let args_name = if n == 0 { "_a" } else { "a" };
        let _ = writeln!(s, "fn call_{}({args_name}: &[usize]) -> Ret {{", p.name);
        let _ = writeln!(
            s,
            "    assert_eq!({args_name}.len(), {n}, \"{} takes {n} arguments\");",
            p.name
        );
        let mut call = format!("{}(", p.name);
        for (i, (t, _)) in p.params.iter().enumerate() {
            let r = rust_type(t);
            if i > 0 {
                call.push_str(", ");
            }
            if r == "bool" {
                let _ = write!(call, "a[{i}] != 0");
            } else {
                let _ = write!(call, "a[{i}] as {r}");
            }
        }
        call.push(')');
        let r = rust_type(&p.ret);
        let body = if r == "c_void" {
            format!("    {call};\n    Ret::Void")
        } else if r == "bool" {
            format!("    Ret::Bool({call})")
        } else if r.starts_with('*') {
            format!("    Ret::Ptr({call} as usize)")
        } else {
            format!("    Ret::Int({call} as i64)")
        };
        let _ = writeln!(s, "{body}");
        let _ = writeln!(s, "}}");
    }
    // Keep the imports used whatever the header holds.
    s.push_str("\n#[allow(unused)]\nfn _uses(_: *const c_char, _: *const c_void, _: c_int) {}\n");
    s
}
