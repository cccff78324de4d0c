//! Test fixture: a plugin that misbehaves as its `mode` variable says: `loop`, `memory`, `recursion`,
//! `panic`, `error`, `invalid`, `huge`, `env`, `log-flood`, `hold` (keeps `hold_mib` MiB until its
//! deadline); or exercises plugin state: `state` (counts calls in app state and webhooks in call
//! state, atomically), `state-fill` (a new 200 KB value per call), `state-ttl` (an app key that lives
//! one second), `state-quota` (an app key per conversation, deleted when the conversation comes
//! back; says what the host answered). Any other mode answers "well behaved".

use ncco_sdk::guest::host::{app, call, config};
use ncco_sdk::guest::{Context, Plugin, PluginError};
use ncco_sdk::ncco::{Ncco, Talk};
use ncco_sdk::webhook::{AnswerRequest, Event};

struct Hostile;

/// Recurses until the stack runs out: the point of the `recursion` mode.
#[allow(unconditional_recursion)]
fn recurse(n: u64, pad: [u64; 16]) -> u64 {
    let mut p = pad;
    p[(n % 16) as usize] = n;
    recurse(n + 1, p).wrapping_add(p[0])
}

fn misbehave(ctx: &Context) -> Result<Ncco, PluginError> {
    let mode = config("mode").unwrap_or_default();
    match mode.as_str() {
        "loop" => {
            let mut x: u64 = 1;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        // Holds `hold_mib` MiB until its deadline interrupts it.
        "hold" => {
            let mib: usize = config("hold_mib").and_then(|m| m.parse().ok()).unwrap_or(16);
            let hoard: Vec<Vec<u8>> = (0..mib).map(|_| vec![1u8; 1 << 20]).collect();
            loop {
                std::hint::black_box(&hoard);
            }
        }
        "recursion" => Ok(Ncco::new().talk(recurse(0, [0; 16]).to_string())),
        "panic" => panic!("the plugin panicked on purpose"),
        "error" => Err(PluginError("the plugin refused on purpose".into())),
        // A talk without text, far too loud: the typed model can hold it, validation must refuse it.
        "invalid" => Ok(Ncco::new().then(Talk::new("").level(5.0))),
        "huge" => Ok(Ncco::new().talk("a".repeat(10 << 20))),
        "env" => {
            let vars: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            let args: Vec<String> = std::env::args().collect();
            Ok(Ncco::new().talk(format!("env [{}] args [{}]", vars.join(","), args.join(","))))
        }
        "log-flood" => {
            for i in 0..10_000 {
                println!("flood line {i}");
            }
            Ok(Ncco::new().talk("flooded"))
        }
        "state" => {
            // Atomic: concurrent calls never lose each other's increments; a state failure fails the
            // webhook (the host answers with the fallback).
            let app_count = app::increment("count", 1, None)?;
            let call_count = call::increment("count", 1)?;
            Ok(Ncco::new().talk(format!("app {app_count} call {call_count}")))
        }
        // Stores a new 200 KB value per call: fills a small disk.
        "state-fill" => {
            let n = app::increment("blobs", 1, None)?;
            app::set(&format!("blob-{n}"), &vec![7u8; 200_000], None)?;
            Ok(Ncco::new().talk(format!("stored {n}")))
        }
        // One app key per conversation, of `value_bytes` bytes (for `ttl_seconds` when set), and
        // what the host said of it; on a conversation already seen, deletes its key instead.
        "state-quota" => {
            let size: usize = config("value_bytes").and_then(|b| b.parse().ok()).unwrap_or(10);
            let ttl: Option<u32> = config("ttl_seconds").and_then(|t| t.parse().ok());
            let key = format!("k-{}", ctx.conversation_uuid.as_deref().unwrap_or("none"));
            let result = match app::get(&key) {
                Ok(Some(_)) => app::delete(&key).map(|()| "deleted"),
                Ok(None) => app::set(&key, &vec![b'v'; size], ttl).map(|()| "stored"),
                Err(e) => Err(e),
            };
            Ok(Ncco::new().talk(match result {
                Ok(done) => done.to_owned(),
                Err(e) => e.to_string(),
            }))
        }
        "state-ttl" => {
            if app::get("short")?.is_some() {
                Ok(Ncco::new().talk("present"))
            } else {
                app::set("short", b"x", Some(1))?;
                Ok(Ncco::new().talk("set"))
            }
        }
        _ => Ok(Ncco::new().talk("well behaved")),
    }
}

impl Plugin for Hostile {
    fn answer(ctx: &Context, _request: AnswerRequest) -> Result<Ncco, PluginError> {
        misbehave(ctx)
    }

    fn event(ctx: &Context, _event: Event) -> Result<Option<Ncco>, PluginError> {
        misbehave(ctx).map(Some)
    }
}

ncco_sdk::export_plugin!(Hostile);
