//! `nsip netns ...`: the `ip netns` commands.

use std::collections::HashMap;
use std::process::{Command, ExitCode};

use netns_core::{Handle, LinkFilter, NetNs};
use serde_json::json;

use crate::args::{usage, Args, Res};
use crate::{link_cmd, Ctx};

pub fn run(ctx: &Ctx, a: &mut Args) -> Res<ExitCode> {
    match a.next().as_deref() {
        Some("add" | "a") => {
            let name = a.value("netns add")?;
            a.done()?;
            ctx.dir.create(&name)?;
        }
        Some("del" | "delete" | "d") => {
            let name = a.value("netns del")?;
            a.done()?;
            ctx.dir.delete(&name)?;
        }
        None | Some("list" | "show" | "ls") => {
            let links = a.eat("--links");
            a.done()?;
            list(ctx, links)?;
        }
        Some("attach") => {
            let name = a.value("netns attach")?;
            let pid: i32 = a.parsed("PID")?;
            a.done()?;
            ctx.dir.attach(&name, pid)?;
        }
        Some("identify") => {
            let pid = match a.next() {
                Some(p) => p
                    .parse::<i32>()
                    .or_else(|_| usage(format!("invalid PID \"{p}\"")))?,
                None => std::process::id() as i32,
            };
            a.done()?;
            for name in ctx.dir.identify_pid(pid)? {
                println!("{name}");
            }
        }
        Some("exec") => {
            let name = a.value("netns exec")?;
            a.eat("--");
            let cmd = a.rest();
            let Some((program, args)) = cmd.split_first() else {
                return usage("netns exec needs a command");
            };
            let ns = ctx.named_or_path(&name)?;
            let status = ns.spawn(Command::new(program).args(args))?.wait()?;
            return Ok(match status.code() {
                Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
                None => ExitCode::from(1),
            });
        }
        Some("set") => {
            let name = a.value("netns set")?;
            let id = a.value("NSID")?;
            a.done()?;
            let ns = ctx.dir.open(&name)?;
            let h = Handle::new()?;
            if id == "auto" {
                h.nsid_assign(&ns)?;
            } else {
                let id: u32 = id
                    .parse()
                    .or_else(|_| usage(format!("invalid NSID \"{id}\"")))?;
                h.nsid_set(&ns, id)?;
            }
        }
        Some(other) => return usage(format!("unknown netns command \"{other}\"")),
    }
    Ok(ExitCode::SUCCESS)
}

/// Like `ip netns list`: each name, with its nsid if one is assigned here;
/// with `--links`, each namespace's interfaces under it (as `ip -n NAME link`
/// would list them, `-br` and `-j` included).
fn list(ctx: &Ctx, with_links: bool) -> Res<()> {
    let h = Handle::new()?;
    let mut rows = Vec::new();
    for name in ctx.dir.list()? {
        // An entry that is not (or no longer) a namespace is listed plainly.
        let ns = NetNs::open(ctx.dir.path().join(&name)).ok();
        let id = ns.as_ref().and_then(|ns| h.nsid_get(ns).ok().flatten());
        let links = match (&ns, with_links) {
            (Some(ns), true) => Some(ns.handle()?.links(&LinkFilter::new())?),
            _ => None,
        };
        rows.push((name, id, links));
    }
    if ctx.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(n, id, links)| {
                let mut o = serde_json::Map::new();
                o.insert("name".into(), json!(n));
                if let Some(id) = id {
                    o.insert("id".into(), json!(id));
                }
                if let Some(links) = links {
                    let names = index_names(links);
                    let v: Vec<_> = links
                        .iter()
                        .map(|l| link_cmd::to_json(l, &names, ctx.details))
                        .collect();
                    o.insert("links".into(), serde_json::Value::Array(v));
                }
                serde_json::Value::Object(o)
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for (n, id, links) in rows {
            match id {
                Some(id) => println!("{n} (id: {id})"),
                None => println!("{n}"),
            }
            if let Some(links) = &links {
                let names = index_names(links);
                for l in links {
                    println!("    {}", link_cmd::brief(l, &names));
                }
            }
        }
    }
    Ok(())
}

fn index_names(links: &[netns_core::LinkInfo]) -> HashMap<u32, String> {
    links.iter().map(|l| (l.index, l.name.clone())).collect()
}
