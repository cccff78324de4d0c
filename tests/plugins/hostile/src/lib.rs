//! Test fixture: a plugin that misbehaves as its `mode` variable says: `loop`, `memory`, `recursion`,
//! `panic`, `error`, `invalid`, `huge`, `env`, `log-flood`, `hold` (keeps `hold_mib` MiB until its
//! deadline); or exercises plugin state: `state` (counts calls in app state and webhooks in call
//! state, atomically), `state-fill` (a new 200 KB value per call), `state-ttl` (an app key that lives
//! one second). Any other mode answers "well behaved".

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

fn misbehave() -> Result<Ncco, PluginError> {
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
    fn answer(_ctx: &Context, _request: AnswerRequest) -> Result<Ncco, PluginError> {
        misbehave()
    }

    fn event(_ctx: &Context, _event: Event) -> Result<Option<Ncco>, PluginError> {
        misbehave().map(Some)
    }
}

ncco_sdk::export_plugin!(Hostile);
