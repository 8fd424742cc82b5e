//! `nsip netns ...`: the `ip netns` commands.

use std::process::{Command, ExitCode};

use netns_core::{Handle, NetNs};
use serde_json::json;

use crate::args::{usage, Args, Res};
use crate::Ctx;

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
            a.done()?;
            list(ctx)?;
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
            let ns = ctx.dir.open(&name)?;
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

/// Like `ip netns list`: each name, with its nsid if one is assigned here.
fn list(ctx: &Ctx) -> Res<()> {
    let h = Handle::new()?;
    let mut rows = Vec::new();
    for name in ctx.dir.list()? {
        // An entry that is not (or no longer) a namespace is listed plainly.
        let id = NetNs::open(ctx.dir.path().join(&name))
            .ok()
            .and_then(|ns| h.nsid_get(&ns).ok().flatten());
        rows.push((name, id));
    }
    if ctx.json {
        let v: Vec<_> = rows
            .iter()
            .map(|(n, id)| match id {
                Some(id) => json!({"name": n, "id": id}),
                None => json!({ "name": n }),
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
    } else {
        for (n, id) in rows {
            match id {
                Some(id) => println!("{n} (id: {id})"),
                None => println!("{n}"),
            }
        }
    }
    Ok(())
}
