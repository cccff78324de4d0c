//! The `connect` action: a new leg rings the endpoint and turns out as the scenario says. Its call
//! events go to the connect's `eventUrl`; with `eventType: synchronous` a failure event's response
//! NCCO replaces the rest (§3.4). Machine detection, `ringbackTone`, `onAnswer`, and a websocket
//! closing (`disconnected`, whose response NCCO also replaces the rest).

use ncco_sdk::ncco::{AmdMode, Connect, Endpoint, EventType, MachineBehavior};
use serde_json::{Map, Value};

use super::call::{Call, Flow, Step, method_of};
use super::payload::{self, Completion, Leg};
use super::scenario::{AnsweredBy, HttpMethod, Outcome};
use super::timeline::What;
use super::webhook::{Kind, Request};

/// Default `connect.timeout`: seconds of ringing before giving up.
pub const DEFAULT_CONNECT_TIMEOUT: f64 = 60.0;
/// Default `connect.limit`: the longest connected call, seconds.
pub const DEFAULT_CONNECT_LIMIT: f64 = 7200.0;
/// Seconds a callee's phone rings before it is answered (or declined, or found unavailable).
pub const DEFAULT_CONNECT_RING_SECONDS: f64 = 3.0;
/// Seconds before a busy or failed outcome is known (there is no ringing).
pub const DEFAULT_FAILURE_SECONDS: f64 = 0.5;
/// Seconds an answered callee stays on the line, unless the scenario says.
pub const DEFAULT_CONNECTED_SECONDS: f64 = 30.0;

/// How an endpoint is named on the timeline and in `expect.connected`.
fn describe(e: &Endpoint) -> (String, String) {
    match e {
        Endpoint::Phone(p) => (p.number.clone(), format!("phone {}", p.number)),
        Endpoint::App(a) => (a.user.clone(), format!("app user {}", a.user)),
        Endpoint::Websocket(w) => (w.uri.clone(), format!("websocket {}", w.uri)),
        Endpoint::Sip(s) => {
            let id = s.uri.clone().unwrap_or_else(|| {
                format!("{}@{}", s.user.as_deref().unwrap_or(""), s.domain.as_deref().unwrap_or(""))
            });
            (id.clone(), format!("sip {id}"))
        }
        Endpoint::Vbc(v) => (v.extension.clone(), format!("vbc extension {}", v.extension)),
    }
}

/// Default `detail` and `sip_code` of a failure.
fn failure_defaults(o: Outcome) -> (Option<&'static str>, Option<u64>) {
    match o {
        Outcome::Busy => (None, Some(486)),
        Outcome::Unanswered => (Some("unavailable"), Some(480)),
        Outcome::Rejected => (Some("declined"), Some(603)),
        Outcome::Failed => (Some("cannot_route"), Some(404)),
        Outcome::Timeout | Outcome::Answered => (None, None),
    }
}

impl Call<'_> {
    /// Runs a `connect` action.
    pub(super) async fn connect(&mut self, c: &Connect) -> Step {
        let Some(endpoint) = c.endpoint.first() else { return Ok(Flow::Next) };
        let (id, name) = describe(endpoint);
        let script = self.connects.pop_front().unwrap_or_default();
        let timeout = c.timeout.map_or(DEFAULT_CONNECT_TIMEOUT, f64::from);
        let limit = c.limit.map_or(DEFAULT_CONNECT_LIMIT, f64::from);
        let sync = c.event_type == Some(EventType::Synchronous);
        let from = c.from.clone().unwrap_or_else(|| {
            if c.random_from_number == Some(true) {
                "(a random application number)".into()
            } else {
                self.leg.to.clone()
            }
        });
        let leg = Leg {
            from: from.clone(),
            to: id.clone(),
            uuid: self.ids.uuid(),
            conversation_uuid: self.leg.conversation_uuid.clone(),
            direction: "outbound",
        };
        let url = c.event_url.as_ref().and_then(|u| u.first()).map(|u| (u.clone(), method_of(c.event_method)));
        let now = self.clock.now();
        let how = if sync { ", eventType synchronous" } else { "" };
        self.tl.push(
            now,
            What::Action { action: "connect", text: format!("calling {name} from {from} (timeout {timeout} s{how})") },
        );
        self.leg_status(&leg, "started", url.clone()).await;
        if let Some(tone) = &c.ringback_tone {
            self.tl.push(
                now,
                What::Hear { source: "ringback", text: tone.clone(), seconds: None, cut: None, played: None },
            );
        }

        let mut outcome = script.outcome;
        let mut ring = match outcome {
            Outcome::Timeout => timeout,
            Outcome::Busy | Outcome::Failed => script.ring_seconds.unwrap_or(DEFAULT_FAILURE_SECONDS),
            _ => script.ring_seconds.unwrap_or(DEFAULT_CONNECT_RING_SECONDS),
        };
        if matches!(outcome, Outcome::Answered | Outcome::Unanswered | Outcome::Rejected) && ring >= timeout {
            outcome = Outcome::Timeout;
            ring = timeout;
        }
        if !matches!(outcome, Outcome::Busy | Outcome::Failed) {
            self.leg_status(&leg, "ringing", url.clone()).await;
        }
        if let Err(stop) = self.wait_until(now + ring).await {
            self.leg_status(&leg, "cancelled", url).await;
            return Err(stop);
        }

        let Some(status) = outcome.status() else {
            return self.connected(c, &script, &leg, url, &name, &id, limit).await;
        };
        let (detail, sip_code) = failure_defaults(outcome);
        let detail = script.detail.clone().or(detail.map(str::to_owned));
        let t = self.clock.now();
        self.tl.push(t, What::Action { action: "connect", text: format!("{name}: {status}") });
        let event = payload::failure(&leg, status, self.clock.iso(t), detail.as_deref(), script.sip_code.or(sip_code));
        let label = format!("connect status {status}");
        if sync {
            let Some((url, method)) = url.or_else(|| self.event_url.clone().map(|u| (u, self.event_method))) else {
                return Ok(Flow::Next);
            };
            let req = Request { label, url, method, payload: event, kind: Kind::Instruction };
            return Ok(self.instruct(req).await.map_or(Flow::Next, Flow::Replace));
        }
        self.event_to(&label, url, event).await;
        Ok(Flow::Next)
    }

    #[allow(clippy::too_many_arguments)]
    async fn connected(
        &mut self,
        c: &Connect,
        script: &super::scenario::ConnectOutcome,
        leg: &Leg,
        url: Option<(String, HttpMethod)>,
        name: &str,
        id: &str,
        limit: f64,
    ) -> Step {
        let answered_at = self.clock.now();
        let event = payload::answered(leg, self.clock.iso(answered_at));
        self.event_to("connect status answered", url.clone(), event).await;
        let amd = c.advanced_machine_detection.as_ref();
        let behavior = amd.and_then(|a| a.behavior).or(c.machine_detection);
        if amd.is_some() || c.machine_detection.is_some() {
            let machine = script.answered_by == AnsweredBy::Machine;
            let beep = machine && amd.and_then(|a| a.mode) == Some(AmdMode::DetectBeep) && script.beep != Some(false);
            let event = payload::machine_detection(leg, machine, beep, self.clock.iso(answered_at));
            let label = if machine { "connect status machine" } else { "connect status human" };
            self.event_to(label, url.clone(), event).await;
            if machine && behavior == Some(MachineBehavior::Hangup) {
                let text = format!("{name}: a machine answered; machine detection hangs up");
                self.tl.push(answered_at, What::Action { action: "connect", text });
                self.leg_completed(leg, answered_at, "platform", url).await;
                return Ok(Flow::Next);
            }
        }
        if let Endpoint::Phone(p) = &c.endpoint[0] {
            if let Some(digits) = &p.dtmf_answer {
                let text = format!("sends DTMF {digits} to the callee");
                self.tl.push(answered_at, What::Action { action: "connect", text });
            }
            if let Some(on_answer) = &p.on_answer {
                self.on_answer(leg, &on_answer.url).await;
            }
        }
        self.facts.connected.push(id.to_owned());
        let stay = script.duration.unwrap_or(DEFAULT_CONNECTED_SECONDS).min(limit);
        let text = format!("connected to {name}: talking for up to {stay} s");
        self.tl.push(answered_at, What::Action { action: "connect", text });
        if let Err(stop) = self.wait_until(answered_at + stay).await {
            self.leg_completed(leg, answered_at, "user", url).await;
            return Err(stop);
        }
        let now = self.clock.now();
        if let Endpoint::Websocket(ws) = &c.endpoint[0] {
            self.tl.push(now, What::Action { action: "connect", text: format!("the application side closes {name}") });
            let event = payload::disconnected(leg, self.clock.iso(now), ws.headers.clone());
            let target = url.clone().or_else(|| self.event_url.clone().map(|u| (u, self.event_method)));
            let replaced = match target {
                Some((u, method)) => {
                    let req = Request {
                        label: "connect status disconnected".into(),
                        url: u,
                        method,
                        payload: event,
                        kind: Kind::Instruction,
                    };
                    self.instruct(req).await
                }
                None => None,
            };
            self.leg_completed(leg, answered_at, "platform", url).await;
            return Ok(replaced.map_or(Flow::Next, Flow::Replace));
        }
        let who = if stay >= limit { "the connect's limit ends the call" } else { "the callee hangs up" };
        self.tl.push(now, What::Action { action: "connect", text: format!("{who} after {stay} s") });
        self.leg_completed(leg, answered_at, "user", url).await;
        Ok(Flow::Next)
    }

    /// Fetches the callee leg's NCCO from `onAnswer.url` and shows it (the simulator does not run it).
    async fn on_answer(&mut self, leg: &Leg, url: &str) {
        let body = payload::answer(leg, None, "phone", super::call::DEFAULT_REGION_URL, None, &Default::default());
        let req = Request {
            label: "onAnswer".into(),
            url: url.to_owned(),
            method: HttpMethod::Get,
            payload: body,
            kind: Kind::Notification,
        };
        if let super::webhook::Outcome::Delivered { body, .. } = self.send(&req).await {
            let ncco: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
            let valid = ncco_sdk::ncco::Validator::default().check_value(&ncco).report.is_valid();
            let text = format!(
                "the callee's onAnswer NCCO is {}; it runs on the callee's leg before it joins (not simulated): {ncco}",
                if valid { "valid" } else { "INVALID" }
            );
            self.tl.push(self.clock.now(), What::Note { text });
        }
    }

    async fn leg_status(&mut self, leg: &Leg, status: &str, url: Option<(String, HttpMethod)>) {
        let event = payload::status(leg, status, self.clock.iso(self.clock.now()));
        self.event_to(&format!("connect status {status}"), url, payload::status_object(&event)).await;
    }

    async fn leg_completed(
        &mut self,
        leg: &Leg,
        answered_at: f64,
        by: &'static str,
        url: Option<(String, HttpMethod)>,
    ) {
        let now = self.clock.now();
        let c = &self.sc.call;
        let completion = Completion {
            start_time: self.clock.iso(answered_at),
            end_time: self.clock.iso(now),
            duration: (now - answered_at).max(0.0).round() as u64,
            rate: c.rate.unwrap_or(super::call::DEFAULT_RATE),
            network: c.network.clone().unwrap_or_else(|| super::call::DEFAULT_NETWORK.into()),
            disconnected_by: by,
        };
        let event: Map<String, Value> = payload::completed(leg, self.clock.iso(now), &completion);
        self.event_to("connect status completed", url, event).await;
    }
}
