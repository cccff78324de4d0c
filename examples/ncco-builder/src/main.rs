//! Builds a small IVR NCCO with the SDK's builders, validates it, and prints Vonage's JSON.
//!
//! Run with `cargo run -p ncco-builder-example`.

use ncco_sdk::ncco::{Connect, Dtmf, Endpoint, Input, Ncco, Speech, Talk};

fn main() {
    let menu = Ncco::new()
        .talk("Thanks for calling Example Bank.")
        .then(Talk::new("Press or say 1 for balances, 2 for cards, 0 for an agent.").barge_in(true))
        .then(
            Input::dtmf_and_speech(Dtmf::new().max_digits(1).time_out(5), Speech::new().context(["balances", "cards"]))
                .event_url("https://example.com/ivr/menu"),
        );
    let agent = Ncco::new()
        .talk("Connecting you to an agent.")
        .then(Connect::to(Endpoint::phone("447700900001")).from("447700900000").timeout(30));

    for (name, ncco) in [("menu", &menu), ("agent", &agent)] {
        let report = ncco.validate();
        for problem in report.errors.iter().chain(&report.warnings) {
            eprintln!("{name}: {problem}");
        }
        println!("{name}: {}", ncco.to_json());
    }
}
