//! The simulated call: its legs and clock, the NCCO queue and how it runs (Vonage's semantics, §1.2
//! and §1.6 of the reference), the answer request, the status events, NCCOs read from instruction
//! callbacks (§3.4), and the end of the call. Each action lives in its own file beside this one.

use std::collections::VecDeque;
use std::sync::Arc;

use ncco_sdk::ncco::{Action, EventMethod, Ncco, Validator};
use serde_json::{Map, Value};

use super::api::{Command, Control, LegView};
use super::clock::Clock;
use super::ids::Ids;
use super::payload::{self, Leg};
use super::scenario::{ConferenceStay, ConnectOutcome, HttpMethod, Recording, Scenario, ScriptedInput};
use super::timeline::{Cut, Timeline, What};
use super::webhook::{Kind, Outcome, Request, Sender};

/// Default `region_url` of the answer request.
pub const DEFAULT_REGION_URL: &str = "https://api-eu-1.vonage.com";
/// Default `network` of the `completed` event.
pub const DEFAULT_NETWORK: &str = "GB-FIXED";
/// Default price per minute, EUR.
pub const DEFAULT_RATE: f64 = 0.0045;
/// Most NCCOs one call may receive before the simulator stops it (callbacks that loop forever).
pub const MAX_NCCOS: usize = 200;
/// Default ringing of an outbound call before the callee answers, seconds.
pub const DEFAULT_RING_SECONDS: f64 = 3.0;

/// Why the call stopped running its NCCO before the NCCO ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The caller hung up.
    Hangup,
    /// The call reached its longest duration.
    Deadline,
    /// The simulator gave up on the call (too many NCCOs).
    Aborted,
    /// A call-control request (`--api-listen`) changes what the call runs: the current action is
    /// cut and the request applied.
    Control,
    /// A call-control request hung the call up.
    ApiHangup,
}

impl Stop {
    pub(super) fn cut(self) -> Cut {
        match self {
            Stop::Hangup => Cut::Hangup,
            Stop::Deadline | Stop::Aborted => Cut::Deadline,
            Stop::Control | Stop::ApiHangup => Cut::Control,
        }
    }
}

/// What to do after an action.
#[derive(Debug)]
pub enum Flow {
    /// Run the next action.
    Next,
    /// A callback returned an NCCO: it replaces the rest.
    Replace(Ncco),
    /// The leg left this NCCO for another conversation (`transfer`).
    Transferred,
}

/// An action's result: how to go on, or why the call stopped.
pub type Step = Result<Flow, Stop>;

/// What the call did, for expectations and the verdict.
#[derive(Debug, Default)]
pub struct Facts {
    /// Texts and stream URLs the caller heard (at least in part), in order.
    pub heard: Vec<String>,
    /// Endpoints that answered a connect, in order.
    pub connected: Vec<String>,
    /// Recordings made.
    pub recordings: usize,
    /// Conversations joined, in order.
    pub conversations: Vec<String>,
    /// The conversation the call was transferred to.
    pub transferred_to: Option<String>,
    /// NCCOs received.
    pub nccos: usize,
    /// Webhooks that got no 2xx response in the end.
    pub failed_webhooks: usize,
    /// Problems that fail the run (invalid NCCOs, a failed answer).
    pub problems: Vec<String>,
    /// True when the answer URL (and fallback) could not be reached at all.
    pub unreachable: bool,
    /// Seconds from answer to end, once ended.
    pub duration: Option<f64>,
    /// `user` or `platform`, once ended.
    pub disconnected_by: Option<&'static str>,
    /// Why the call ended.
    pub end_reason: Option<String>,
}

/// A recording whose event is still to be sent.
#[derive(Debug, Clone)]
pub(super) struct OpenRecording {
    pub start: f64,
    pub end: f64,
    pub format: Option<ncco_sdk::ncco::RecordFormat>,
    pub channels: u32,
    pub url: Option<(String, HttpMethod)>,
    pub transcription: Option<(String, HttpMethod)>,
}

/// A call in progress.
#[derive(Debug)]
pub struct Call<'a> {
    pub(super) sc: &'a Scenario,
    pub(super) sender: &'a Sender,
    pub(super) clock: Clock,
    pub(super) tl: Timeline,
    pub(super) ids: Ids,
    pub(super) leg: Leg,
    pub(super) event_url: Option<String>,
    pub(super) event_method: HttpMethod,
    pub(super) answered_at: f64,
    pub(super) hangup_at: Option<f64>,
    pub(super) deadline: f64,
    pub(super) inputs: VecDeque<ScriptedInput>,
    pub(super) connects: VecDeque<ConnectOutcome>,
    pub(super) recording_script: VecDeque<Recording>,
    pub(super) stays: VecDeque<ConferenceStay>,
    pub(super) barge_in: bool,
    pub(super) prompts: Vec<super::audio::Prompt>,
    pub(super) open_recordings: Vec<OpenRecording>,
    pub(super) facts: Facts,
    /// The Voice API's call control, with `--api-listen`.
    pub(super) api: Option<Arc<Control>>,
    /// A call-control request that changes what the call runs, not applied yet.
    pub(super) redirect: Option<Command>,
}

/// What a call-control request does to the NCCO being run.
enum Redirect {
    /// Nothing: run on.
    Nothing,
    /// The NCCO is replaced.
    Replace(Ncco),
    /// The call ends.
    Hangup,
}

/// With `--api-listen` in virtual time: how long the simulator waits after each webhook for the
/// requests its server makes right after answering.
pub const API_SETTLE: std::time::Duration = std::time::Duration::from_millis(150);

/// Where an event goes: the action's `eventUrl` and method, else the application's.
pub(super) fn method_of(m: Option<EventMethod>) -> HttpMethod {
    match m {
        Some(EventMethod::Get) => HttpMethod::Get,
        _ => HttpMethod::Post,
    }
}

impl<'a> Call<'a> {
    /// A call for `sc`, not started yet.
    pub fn new(sc: &'a Scenario, sender: &'a Sender, clock: Clock, event_url: Option<String>) -> Self {
        let mut ids = Ids::default();
        let c = &sc.call;
        let leg = Leg {
            from: c
                .from_user
                .clone()
                .or_else(|| c.from.clone())
                .unwrap_or_else(|| super::scenario::DEFAULT_FROM.into()),
            to: c.to.clone().unwrap_or_else(|| super::scenario::DEFAULT_TO.into()),
            uuid: c.uuid.clone().unwrap_or_else(|| ids.uuid()),
            conversation_uuid: c.conversation_uuid.clone().unwrap_or_else(|| ids.conversation()),
            direction: c.direction.as_str(),
        };
        Call {
            sc,
            sender,
            clock,
            tl: Timeline::default(),
            ids,
            leg,
            event_url,
            event_method: c.event_method.unwrap_or(HttpMethod::Post),
            answered_at: 0.0,
            hangup_at: None,
            deadline: f64::INFINITY,
            inputs: sc.inputs.iter().cloned().collect(),
            connects: sc.connects.iter().cloned().collect(),
            recording_script: sc.recordings.iter().cloned().collect(),
            stays: sc.conversations.iter().cloned().collect(),
            barge_in: false,
            prompts: Vec::new(),
            open_recordings: Vec::new(),
            facts: Facts::default(),
            api: None,
            redirect: None,
        }
    }

    /// Lets the Voice API's call control (`--api-listen`) act on this call.
    pub fn with_api(mut self, control: Arc<Control>) -> Self {
        control.set_leg(LegView {
            uuid: self.leg.uuid.clone(),
            conversation_uuid: self.leg.conversation_uuid.clone(),
            from: self.leg.from.clone(),
            to: self.leg.to.clone(),
            direction: self.leg.direction,
            status: "started".into(),
        });
        self.api = Some(control);
        self
    }

    /// Puts the call-control requests that arrived on the timeline and applies those that do not
    /// change the NCCO (a talk or a stream is heard over it); true when one that does is waiting.
    pub(super) fn drain_api(&mut self) -> bool {
        let Some(api) = &self.api else { return false };
        let now = self.clock.now();
        for arrival in api.take() {
            self.tl.push(now, What::Api { request: arrival.request, status: arrival.status, text: arrival.text });
            match arrival.command {
                Some(Command::Talk(text)) => {
                    let seconds = self.talk_seconds(&text);
                    self.facts.heard.push(text.clone());
                    self.tl.push(
                        now,
                        What::Hear { source: "talk", text, seconds: Some(seconds), cut: None, played: None },
                    );
                }
                Some(Command::Stream(url)) => {
                    self.facts.heard.push(url.clone());
                    self.tl
                        .push(now, What::Hear { source: "stream", text: url, seconds: None, cut: None, played: None });
                }
                // A hangup outranks a transfer that came before it.
                Some(c @ Command::Hangup) => self.redirect = Some(c),
                Some(c) if c.interrupts() && !matches!(self.redirect, Some(Command::Hangup)) => self.redirect = Some(c),
                Some(_) | None => {}
            }
        }
        self.redirect.is_some()
    }

    /// Applies the waiting call-control request that changes the NCCO.
    async fn take_redirect(&mut self) -> Redirect {
        let now = self.clock.now();
        match self.redirect.take() {
            None | Some(Command::Talk(_) | Command::Stream(_) | Command::Note) => Redirect::Nothing,
            Some(Command::Hangup) => Redirect::Hangup,
            Some(Command::Transfer(ncco)) => {
                self.facts.nccos += 1;
                let actions = ncco.actions().iter().map(Action::name).collect();
                let entry = What::Ncco {
                    number: self.facts.nccos,
                    from: "a call-control transfer".into(),
                    replaces: true,
                    actions,
                    ncco: ncco.to_value(),
                };
                self.tl.push(now, entry);
                Redirect::Replace(ncco)
            }
            Some(Command::TransferUrl(url)) => {
                // Vonage fetches a transfer's URL as an answer URL.
                let payload = self.answer_payload();
                let req = Request {
                    label: "transfer".into(),
                    url,
                    method: HttpMethod::Get,
                    payload,
                    kind: Kind::Instruction,
                };
                match self.instruct(req).await {
                    Some(ncco) => Redirect::Replace(ncco),
                    None => Redirect::Nothing,
                }
            }
        }
    }

    /// The caller's leg.
    pub fn leg(&self) -> &Leg {
        &self.leg
    }

    /// Runs the whole call against `answer_url`.
    pub async fn run(&mut self, answer_url: &str) {
        let method = self.sc.call.answer_method.unwrap_or(HttpMethod::Get);
        let outbound = self.sc.call.direction == super::scenario::CallDirection::Outbound;
        let now = self.clock.now();
        if outbound {
            self.tl.push(now, What::Call { event: "ringing".into(), text: format!("calling {}", self.leg.to) });
            self.status_event("started").await;
            self.status_event("ringing").await;
            let ring = self.sc.call.ring_seconds.unwrap_or(DEFAULT_RING_SECONDS);
            self.clock.advance_to(now + ring).await;
            self.answered().await;
        } else {
            self.tl.push(
                now,
                What::Call { event: "incoming".into(), text: format!("{} calls {}", self.leg.from, self.leg.to) },
            );
        }
        let ncco = self.answer(answer_url, method).await;
        let Some(ncco) = ncco else {
            let reason = "no NCCO from the answer URL: the call is terminated".to_owned();
            if outbound {
                self.end_call(reason, "platform").await;
            } else {
                self.tl.push(self.clock.now(), What::Call { event: "terminated".into(), text: reason.clone() });
                self.facts.end_reason = Some(reason);
            }
            return;
        };
        if !outbound {
            self.status_event("started").await;
            self.status_event("ringing").await;
            self.answered().await;
        }
        let mut queue: VecDeque<Action> = ncco.0.into();
        let stopped = loop {
            if self.drain_api() {
                match self.take_redirect().await {
                    Redirect::Hangup => break Some(Stop::ApiHangup),
                    Redirect::Replace(ncco) => {
                        self.resolve_prompts(self.clock.now(), Cut::Control);
                        queue = ncco.0.into();
                        continue;
                    }
                    Redirect::Nothing => {}
                }
            }
            let Some(action) = queue.pop_front() else { break None };
            match self.execute(action).await {
                Ok(Flow::Next) => {}
                Ok(Flow::Replace(_)) if self.facts.nccos > MAX_NCCOS => {
                    let text = format!("more than {MAX_NCCOS} NCCOs in one call: the simulator stops (a loop?)");
                    self.tl.push(self.clock.now(), What::Problem { text: text.clone() });
                    self.facts.problems.push(text);
                    break Some(Stop::Aborted);
                }
                Ok(Flow::Replace(ncco)) => queue = ncco.0.into(),
                Ok(Flow::Transferred) => match self.hangup_at {
                    Some(_) => match self.wait_until(f64::INFINITY).await.err() {
                        // A call-control request: applied at the top of the loop.
                        Some(Stop::Control) => {}
                        stopped => break stopped,
                    },
                    None => {
                        self.drain_api();
                        return self.stop_following();
                    }
                },
                // The request is applied at the top of the loop.
                Err(Stop::Control) => {}
                Err(stop) => break Some(stop),
            }
        };
        self.resolve_prompts(self.clock.now(), Cut::Hangup);
        match stopped {
            None => self.end_call("the NCCO ran out".into(), "platform").await,
            Some(Stop::Hangup) => self.end_call("the caller hung up".into(), "user").await,
            Some(Stop::Deadline) => self.end_call("the call reached its longest duration".into(), "platform").await,
            Some(Stop::Aborted) => self.end_call("the simulator stopped the call".into(), "platform").await,
            Some(Stop::ApiHangup | Stop::Control) => {
                self.end_call("hung up by call control (the Voice API)".into(), "platform").await;
            }
        }
        // Requests that came during the last webhooks are shown, and later ones refused.
        self.drain_api();
    }

    /// After a transfer without a scripted hangup: the target conversation's NCCO controls the leg,
    /// and the simulator stops following the call.
    fn stop_following(&mut self) {
        let now = self.clock.now();
        let reason = "transferred: the call goes on in the target conversation, which the simulator does not \
                      follow (give call.hangup_after to end it there)"
            .to_owned();
        self.tl.push(now, What::Call { event: "left".into(), text: reason.clone() });
        if !self.open_recordings.is_empty() {
            let text = format!(
                "{} recording(s) still running: their events come when the call ends",
                self.open_recordings.len()
            );
            self.tl.push(now, What::Note { text });
        }
        self.facts.duration = Some(now - self.answered_at);
        self.facts.end_reason = Some(reason);
    }

    async fn answered(&mut self) {
        self.answered_at = self.clock.now();
        self.hangup_at = self.sc.call.hangup_after.map(|s| self.answered_at + s);
        self.deadline = self.answered_at + self.sc.call.max_duration.unwrap_or(super::scenario::DEFAULT_MAX_DURATION);
        let text = match self.hangup_at {
            Some(t) => format!("the caller will hang up at {t:.3} s"),
            None => "the caller stays until the call ends".to_owned(),
        };
        self.tl.push(self.answered_at, What::Call { event: "answered".into(), text });
        if let Some(api) = &self.api {
            api.set_status("answered");
        }
        let event = payload::answered(&self.leg, self.clock.iso(self.answered_at));
        self.app_event("status answered", event).await;
    }

    async fn execute(&mut self, action: Action) -> Step {
        match action {
            Action::Talk(t) => self.talk(&t).await,
            Action::Stream(s) => self.stream(&s).await,
            Action::Wait(w) => self.wait(&w).await,
            Action::Input(i) => self.input(&i).await,
            Action::Record(r) => self.record(&r).await,
            Action::Connect(c) => self.connect(&c).await,
            Action::Conversation(c) => self.conversation(&c).await,
            Action::Notify(n) => {
                let now = self.clock.now();
                self.tl.push(
                    now,
                    What::Action { action: "notify", text: format!("payload {}", Value::Object(n.payload.clone())) },
                );
                let Some(url) = n.event_url.first().cloned() else { return Ok(Flow::Next) };
                let body = payload::notify(&self.leg, &n.payload, self.clock.iso(now));
                let req = Request {
                    label: "notify".into(),
                    url,
                    method: method_of(n.event_method),
                    payload: body,
                    kind: Kind::Instruction,
                };
                Ok(self.instruct(req).await.map_or(Flow::Next, Flow::Replace))
            }
            Action::Transfer(t) => {
                let now = self.clock.now();
                self.tl.push(
                    now,
                    What::Action {
                        action: "transfer",
                        text: format!("all legs move to conversation {}", t.conversation_id),
                    },
                );
                self.facts.transferred_to = Some(t.conversation_id.clone());
                let event = payload::transfer(&self.leg, &t.conversation_id, self.clock.iso(now));
                self.app_event("transfer", event).await;
                Ok(Flow::Transferred)
            }
        }
    }

    /// Advances the clock to `t`, finishing background recordings on the way; stops early at the
    /// caller's hangup or the call's time limit.
    pub(super) async fn wait_until(&mut self, t: f64) -> Result<(), Stop> {
        loop {
            if self.drain_api() {
                return Err(Stop::Control);
            }
            let stop_at = self.hangup_at.unwrap_or(f64::INFINITY).min(self.deadline);
            let limit = t.min(stop_at);
            let due = self
                .open_recordings
                .iter()
                .enumerate()
                .filter(|(_, r)| r.end <= limit)
                .min_by(|a, b| a.1.end.total_cmp(&b.1.end))
                .map(|(i, _)| i);
            if let Some(i) = due {
                let rec = self.open_recordings.remove(i);
                self.clock.advance_to(rec.end).await;
                self.send_recording(rec).await;
                continue;
            }
            if let Some(api) = self.api.clone()
                && !self.clock.advance_or_wake(limit, &api.notify).await
            {
                // A request arrived: look at it, then wait on.
                continue;
            }
            self.clock.advance_to(limit).await;
            if t < stop_at {
                return Ok(());
            }
            return Err(if self.hangup_at.is_some_and(|h| h <= self.deadline) { Stop::Hangup } else { Stop::Deadline });
        }
    }

    /// Sends a webhook now and logs every attempt; counts a final failure.
    pub(super) async fn send(&mut self, req: &Request) -> Outcome {
        let delivery = self.sender.deliver(req).await;
        if self.api.is_some() && !self.clock.is_paced() {
            tokio::time::sleep(API_SETTLE).await;
        }
        let now = self.clock.now();
        for attempt in delivery.attempts {
            self.tl.push(now, What::Webhook(attempt));
        }
        if matches!(delivery.outcome, Outcome::Failed { .. }) {
            self.facts.failed_webhooks += 1;
        }
        delivery.outcome
    }

    /// A notification to `url` (the action's) or else the application's event URL.
    pub(super) async fn event_to(&mut self, label: &str, url: Option<(String, HttpMethod)>, body: Map<String, Value>) {
        let target = url.or_else(|| self.event_url.clone().map(|u| (u, self.event_method)));
        match target {
            Some((url, method)) => {
                let req = Request { label: label.to_owned(), url, method, payload: body, kind: Kind::Notification };
                self.send(&req).await;
            }
            None => {
                let text = "no event URL (give --event-url)".to_owned();
                self.tl.push(self.clock.now(), What::Skipped { label: label.to_owned(), text });
            }
        }
    }

    /// A notification to the application's event URL.
    pub(super) async fn app_event(&mut self, label: &str, body: Map<String, Value>) {
        self.event_to(label, None, body).await;
    }

    async fn status_event(&mut self, status: &str) {
        let event = payload::status(&self.leg, status, self.clock.iso(self.clock.now()));
        self.app_event(&format!("status {status}"), payload::status_object(&event)).await;
    }

    /// Sends an instruction callback and returns the NCCO its response holds, if a valid one.
    pub(super) async fn instruct(&mut self, req: Request) -> Option<Ncco> {
        let label = req.label.clone();
        match self.send(&req).await {
            Outcome::Delivered { body, .. } => self.read_ncco(&body, &label, true).await,
            Outcome::Failed { reason, .. } => {
                let text = format!("{label} failed ({reason}): no NCCO, the call goes on");
                self.tl.push(self.clock.now(), What::Note { text });
                None
            }
        }
    }

    /// Reads a response body as an NCCO. For instruction callbacks an empty or non-JSON body means
    /// "go on"; an invalid NCCO is reported with an `error` event and fails the run.
    async fn read_ncco(&mut self, body: &str, from: &str, replaces: bool) -> Option<Ncco> {
        let now = self.clock.now();
        let value: Value = match serde_json::from_str(body.trim()) {
            Ok(v) => v,
            Err(_) if replaces => {
                if !body.trim().is_empty() {
                    self.tl.push(
                        now,
                        What::Note { text: format!("the {from} response is not JSON: no NCCO, the call goes on") },
                    );
                }
                return None;
            }
            Err(e) => {
                let why = if body.trim().is_empty() { "empty".to_owned() } else { format!("not JSON ({e})") };
                let text = format!("the {from} response is {why}: Vonage needs an NCCO");
                self.fail(text).await;
                return None;
            }
        };
        if replaces && value.as_object().is_some_and(|o| !o.contains_key("action")) {
            self.tl.push(
                now,
                What::Note { text: format!("the {from} response is a JSON object, not an NCCO: the call goes on") },
            );
            return None;
        }
        self.facts.nccos += 1;
        let checked = Validator::default().check_value(&value);
        let actions = match &checked.ncco {
            Some(n) => n.actions().iter().map(Action::name).collect(),
            None => Vec::new(),
        };
        self.tl
            .push(now, What::Ncco { number: self.facts.nccos, from: from.to_owned(), replaces, actions, ncco: value });
        for w in &checked.report.warnings {
            self.tl.push(
                now,
                What::Note { text: format!("NCCO #{} {}: {}", self.facts.nccos, pointer(&w.pointer), w.message) },
            );
        }
        if let Some(ncco) = checked.ncco.filter(|_| checked.report.is_valid()) {
            return Some(ncco);
        }
        let problems: Vec<String> =
            checked.report.errors.iter().map(|p| format!("{}: {}", pointer(&p.pointer), p.message)).collect();
        self.fail(format!("NCCO #{} from {from} is invalid: {}", self.facts.nccos, problems.join("; "))).await;
        None
    }

    /// Reports an NCCO Vonage cannot run: a problem that fails the run, and the `error` event.
    async fn fail(&mut self, text: String) {
        let now = self.clock.now();
        self.tl.push(now, What::Problem { text: text.clone() });
        self.facts.problems.push(text);
        let event = payload::error(&self.leg, payload::INVALID_NCCO_REASON, self.clock.iso(now));
        self.app_event("error", event).await;
    }

    /// The answer request's fields for this call.
    fn answer_payload(&self) -> Map<String, Value> {
        let c = &self.sc.call;
        payload::answer(
            &self.leg,
            c.from_user.as_deref(),
            c.endpoint_type.as_deref().unwrap_or(if c.from_user.is_some() { "app" } else { "phone" }),
            c.region_url.as_deref().unwrap_or(DEFAULT_REGION_URL),
            c.custom_data.as_ref(),
            &c.sip_headers,
        )
    }

    async fn answer(&mut self, url: &str, method: HttpMethod) -> Option<Ncco> {
        let body = self.answer_payload();
        let req = Request { label: "answer".into(), url: url.to_owned(), method, payload: body, kind: Kind::Answer };
        match self.send(&req).await {
            Outcome::Delivered { body, fallback } => {
                let from = if fallback { "the fallback answer URL" } else { "answer" };
                let ncco = self.read_ncco(&body, from, false).await;
                if ncco.is_none() {
                    self.tl.push(
                        self.clock.now(),
                        What::Note { text: "Vonage disconnects a call whose NCCO it cannot run".into() },
                    );
                }
                ncco
            }
            Outcome::Failed { reason, unreachable } => {
                let text = format!("the answer URL failed: {reason}");
                self.tl.push(self.clock.now(), What::Problem { text: text.clone() });
                self.facts.problems.push(text);
                self.facts.unreachable = unreachable;
                None
            }
        }
    }

    /// Ends the call: `completed` for the caller's leg, then the events of recordings still open.
    async fn end_call(&mut self, reason: String, by: &'static str) {
        let now = self.clock.now();
        let duration = (now - self.answered_at).max(0.0);
        self.tl.push(
            now,
            What::Call {
                event: "ended".into(),
                text: format!("{reason} after {duration:.1} s (disconnected_by {by})"),
            },
        );
        let c = &self.sc.call;
        let completion = payload::Completion {
            start_time: self.clock.iso(self.answered_at),
            end_time: self.clock.iso(now),
            duration: duration.round() as u64,
            rate: c.rate.unwrap_or(DEFAULT_RATE),
            network: c.network.clone().unwrap_or_else(|| DEFAULT_NETWORK.into()),
            disconnected_by: by,
        };
        if let Some(api) = &self.api {
            api.set_status("completed");
        }
        let event = payload::completed(&self.leg, self.clock.iso(now), &completion);
        self.app_event("status completed", event).await;
        let mut open = std::mem::take(&mut self.open_recordings);
        open.sort_by(|a, b| a.start.total_cmp(&b.start));
        for mut rec in open {
            rec.end = rec.end.min(now);
            self.send_recording(rec).await;
        }
        self.facts.duration = Some(duration);
        self.facts.disconnected_by = Some(by);
        self.facts.end_reason = Some(reason);
    }

    /// Everything the call produced.
    pub fn finish(self) -> (Timeline, Facts) {
        (self.tl, self.facts)
    }
}

fn pointer(p: &str) -> &str {
    if p.is_empty() { "/" } else { p }
}
