//! `record` and `conversation`. A record with `endOnSilence` or `endOnKey` is synchronous (voicemail):
//! the caller's scripted message, then its event before the next action. Without them it runs in the
//! background until `timeOut` or the call's end, and only then is its event sent (§1.3.1). A
//! conversation lasts until the caller hangs up or the scenario ends it; its recording likewise.

use ncco_sdk::ncco::{Conversation, Record, RecordFormat};

use super::call::{Call, Flow, OpenRecording, Step, method_of};
use super::payload;
use super::scenario::{HttpMethod, RecordingEnd};
use super::timeline::What;

/// Longest recording (`record.timeOut` default and maximum), seconds.
pub const MAX_RECORD_SECONDS: f64 = 7200.0;
/// Seconds the caller talks into a synchronous recording, unless the scenario says.
pub const DEFAULT_MESSAGE_SECONDS: f64 = 5.0;
/// Bytes per second of MP3 (32 kbps CBR) and Ogg.
pub const MP3_BYTES_PER_SECOND: f64 = 4000.0;
/// Bytes per second of one WAV channel (16-bit, 16 kHz).
pub const WAV_BYTES_PER_SECOND: f64 = 32_000.0;

impl Call<'_> {
    fn record_target(r: &Record) -> Option<(String, HttpMethod)> {
        r.event_url.as_ref().and_then(|u| u.first()).map(|u| (u.clone(), method_of(r.event_method)))
    }

    /// Runs a `record` action.
    pub(super) async fn record(&mut self, r: &Record) -> Step {
        let now = self.clock.now();
        let max = r.time_out.map_or(MAX_RECORD_SECONDS, f64::from);
        let transcription = r.transcription.as_ref().map(|t| {
            let url = t.event_url.as_ref().and_then(|u| u.first()).cloned();
            (url, method_of(t.event_method))
        });
        let open = OpenRecording {
            start: now,
            end: now + max,
            format: r.format,
            channels: r.channels.unwrap_or(1),
            url: Self::record_target(r),
            transcription: transcription.and_then(|(u, m)| u.map(|u| (u, m))),
        };
        if r.beep_start == Some(true) {
            self.tl.push(
                now,
                What::Hear {
                    source: "beep",
                    text: "(recording starts)".into(),
                    seconds: None,
                    cut: None,
                    played: Some(0.0),
                },
            );
        }
        if !r.is_synchronous() {
            let text = format!("recording the call in the background (at most {max} s); its event comes when it ends");
            self.tl.push(now, What::Action { action: "record", text });
            self.open_recordings.push(open);
            return Ok(Flow::Next);
        }
        let mut ends = Vec::new();
        if let Some(s) = r.end_on_silence {
            ends.push(format!("{s} s of silence"));
        }
        if let Some(k) = &r.end_on_key {
            ends.push(format!("key {k}"));
        }
        ends.push(format!("{max} s"));
        self.tl.push(now, What::Action { action: "record", text: format!("recording until {}", ends.join(" or ")) });
        let script = self.recording_script.pop_front().unwrap_or_default();
        let talking = script.seconds.unwrap_or(DEFAULT_MESSAGE_SECONDS);
        let end = script.end.unwrap_or(if r.end_on_key.is_some() { RecordingEnd::Key } else { RecordingEnd::Silence });
        self.tl.push(now, What::Caller { text: format!("leaves a {talking} s message") });
        let talk_end = now + talking;
        let ends_at = match end {
            RecordingEnd::Key if r.end_on_key.is_some() => talk_end,
            RecordingEnd::Silence if r.end_on_silence.is_some() => talk_end + f64::from(r.end_on_silence.unwrap_or(0)),
            RecordingEnd::Hangup => {
                self.hangup_at = Some(self.hangup_at.map_or(talk_end, |h| h.min(talk_end)));
                f64::INFINITY
            }
            _ => {
                let text = format!("the recording has no {end:?} end condition: it runs to its timeOut").to_lowercase();
                self.tl.push(now, What::Note { text });
                f64::INFINITY
            }
        }
        .min(now + max);
        // Finished by hand below, so it stays out of the background list while the caller talks.
        let mut rec = open;
        match self.wait_until(ends_at).await {
            Ok(()) => {
                let t = self.clock.now();
                if end == RecordingEnd::Key && r.end_on_key.is_some() && t <= talk_end {
                    self.tl.push(t, What::Press { keys: r.end_on_key.clone().unwrap_or_default() });
                }
                rec.end = t;
                self.tl
                    .push(t, What::Action { action: "record", text: format!("recording ends after {:.1} s", t - now) });
                self.send_recording(rec).await;
                Ok(Flow::Next)
            }
            Err(stop) => {
                if end == RecordingEnd::Hangup && stop == super::call::Stop::Hangup {
                    self.tl.push(self.clock.now(), What::Caller { text: "hangs up after the message".into() });
                }
                rec.end = f64::INFINITY;
                self.open_recordings.push(rec);
                Err(stop)
            }
        }
    }

    /// Sends a finished recording's event (and its transcription's).
    pub(super) async fn send_recording(&mut self, rec: OpenRecording) {
        let now = self.clock.now();
        let end = rec.end.min(now);
        let seconds = (end - rec.start).max(0.0);
        let per_second = match rec.format {
            Some(RecordFormat::Wav) => WAV_BYTES_PER_SECOND * f64::from(rec.channels.max(1)),
            _ => MP3_BYTES_PER_SECOND,
        };
        let recording_uuid = self.ids.uuid();
        let file_id = self.ids.uuid();
        let body = payload::record(
            &self.leg,
            self.clock.iso(rec.start),
            self.clock.iso(end),
            recording_uuid.clone(),
            &file_id,
            (seconds * per_second).round() as u64,
            self.clock.iso(now),
        );
        self.facts.recordings += 1;
        self.event_to("record", rec.url, body).await;
        if let Some(target) = rec.transcription {
            let transcript_id = self.ids.uuid();
            let body = payload::transcription(&self.leg, &recording_uuid, &transcript_id, self.clock.iso(now));
            self.event_to("transcription", Some(target), body).await;
        }
    }

    /// Runs a `conversation` action: the leg stays in the conference until it ends for this leg.
    pub(super) async fn conversation(&mut self, c: &Conversation) -> Step {
        let now = self.clock.now();
        self.facts.conversations.push(c.name.clone());
        let role = match (c.start_on_enter, c.end_on_exit) {
            (_, Some(true)) => " as moderator (endOnExit)",
            (Some(false), _) => " as attendee (waits for the moderator)",
            _ => "",
        };
        self.tl
            .push(now, What::Action { action: "conversation", text: format!("joins conversation {:?}{role}", c.name) });
        if c.start_on_enter == Some(false)
            && let Some(url) = c.music_on_hold_url.as_ref().and_then(|u| u.first())
        {
            self.tl.push(
                now,
                What::Hear { source: "music_on_hold", text: url.clone(), seconds: None, cut: None, played: None },
            );
        }
        let stay = self.stays.pop_front().and_then(|s| s.duration);
        if c.record == Some(true) {
            let url = c.event_url.as_ref().and_then(|u| u.first()).map(|u| (u.clone(), method_of(c.event_method)));
            let transcription = c.transcription.as_ref().and_then(|t| {
                t.event_url.as_ref().and_then(|u| u.first()).map(|u| (u.clone(), method_of(t.event_method)))
            });
            let end = stay.map_or(f64::INFINITY, |d| now + d);
            self.open_recordings.push(OpenRecording { start: now, end, format: None, channels: 1, url, transcription });
        }
        let Some(stay) = stay else {
            return self.wait_until(f64::INFINITY).await.map(|()| Flow::Next);
        };
        self.wait_until(now + stay).await?;
        let t = self.clock.now();
        self.tl.push(
            t,
            What::Action { action: "conversation", text: format!("the conversation ends for this leg after {stay} s") },
        );
        Ok(Flow::Next)
    }
}
