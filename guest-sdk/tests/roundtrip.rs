//! Property tests: any valid NCCO the model can hold serializes to JSON that parses back to the same
//! value, in strict mode, with no warnings.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use ncco_sdk::Mode;
use ncco_sdk::ncco::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use serde_json::{Map, Value};

fn url() -> impl Strategy<Value = String> {
    "[a-z]{1,10}(/[a-z0-9]{1,8}){0,2}".prop_map(|p| format!("https://example.com/{p}"))
}

fn urls() -> impl Strategy<Value = Vec<String>> {
    url().prop_map(|u| vec![u])
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9 _.-]{0,15}"
}

fn number() -> impl Strategy<Value = String> {
    "[1-9][0-9]{6,14}"
}

fn method() -> impl Strategy<Value = Option<EventMethod>> {
    option::of(prop_oneof![Just(EventMethod::Get), Just(EventMethod::Post)])
}

fn extra() -> impl Strategy<Value = Map<String, Value>> {
    vec(("x_[a-z]{1,6}", word()), 0..2).prop_map(|kv| kv.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

fn level() -> impl Strategy<Value = Option<f64>> {
    option::of(-1.0f64..=1.0)
}

fn transcription() -> impl Strategy<Value = Transcription> {
    (option::of(Just("en-US".to_owned())), option::of(urls()), method(), option::of(any::<bool>())).prop_map(
        |(language, event_url, event_method, sentiment_analysis)| Transcription {
            language,
            event_url,
            event_method,
            sentiment_analysis,
            extra: Map::new(),
        },
    )
}

fn talk() -> impl Strategy<Value = Action> {
    (
        "[^<>\u{0}-\u{1f}]{1,200}".prop_filter("spoken text", |t| !t.trim().is_empty()),
        option::of(Just(false)),
        option::of(0u32..10),
        level(),
        option::of(prop::sample::select(TTS_LANGUAGES).prop_map(str::to_owned)),
        option::of(0u32..8),
        option::of(any::<bool>()),
        extra(),
    )
        .prop_map(|(text, barge_in, r#loop, level, language, style, premium, extra)| {
            Action::Talk(Talk {
                text,
                barge_in,
                r#loop,
                level,
                language,
                style,
                premium,
                voice_name: None,
                provider: None,
                provider_options: None,
                extra,
            })
        })
}

fn stream() -> impl Strategy<Value = Action> {
    (urls(), level(), option::of(Just(false)), option::of(0u32..10), extra()).prop_map(
        |(stream_url, level, barge_in, r#loop, extra)| {
            Action::Stream(Stream { stream_url, level, barge_in, r#loop, extra })
        },
    )
}

fn record() -> impl Strategy<Value = Action> {
    (
        option::of(prop_oneof![Just(RecordFormat::Mp3), Just(RecordFormat::Wav), Just(RecordFormat::Ogg)]),
        option::of(1u32..=32),
        option::of(3u32..=10),
        option::of(prop::sample::select(vec!["0", "5", "*", "#"]).prop_map(str::to_owned)),
        option::of(3u32..=7200),
        option::of(any::<bool>()),
        option::of(urls()),
        method(),
        option::of(transcription()),
    )
        .prop_map(
            |(format, channels, end_on_silence, end_on_key, time_out, beep_start, event_url, event_method, tr)| {
                Action::Record(Record {
                    format,
                    split: channels.map(|_| Split::Conversation),
                    channels,
                    end_on_silence,
                    end_on_key,
                    time_out,
                    beep_start,
                    event_url,
                    event_method,
                    transcription: tr,
                    extra: Map::new(),
                })
            },
        )
}

fn conversation() -> impl Strategy<Value = Action> {
    (
        word(),
        option::of(urls()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        option::of(vec(word(), 0..3)),
        option::of(vec(word(), 0..3)),
        option::of(any::<bool>()),
        option::of(urls()),
    )
        .prop_map(|(name, moh, start, end, record, can_speak, can_hear, mute, event_url)| {
            // mute: true and canSpeak together are invalid; keep the generated NCCO valid.
            let mute = if can_speak.is_some() { mute.map(|_| false) } else { mute };
            Action::Conversation(Conversation {
                name,
                music_on_hold_url: moh,
                start_on_enter: start,
                end_on_exit: end,
                record,
                can_speak,
                can_hear,
                mute,
                event_url,
                event_method: None,
                transcription: None,
                extra: Map::new(),
            })
        })
}

fn endpoint() -> impl Strategy<Value = Endpoint> {
    let phone = (number(), option::of("[0-9#*p]{1,6}"), option::of((url(), option::of(url()))), option::of(word()))
        .prop_map(|(number, dtmf_answer, on_answer, shaken)| {
            Endpoint::Phone(PhoneEndpoint {
                number,
                dtmf_answer,
                on_answer: on_answer.map(|(url, ringback_tone)| OnAnswer { url, ringback_tone, extra: Map::new() }),
                shaken,
                extra: Map::new(),
            })
        });
    let app = word().prop_map(Endpoint::app);
    let websocket = (
        prop_oneof![Just(ContentType::L16Rate8000), Just(ContentType::L16Rate16000), Just(ContentType::L16Rate24000)],
        extra(),
        option::of(prop_oneof![
            Just(WebsocketAuthorization::Vonage),
            "[ -~]{1,40}".prop_map(|value| WebsocketAuthorization::Custom { value })
        ]),
    )
        .prop_map(|(ct, headers, authorization)| {
            Endpoint::Websocket(WebsocketEndpoint {
                uri: "wss://bot.example.com/socket".to_owned(),
                content_type: Some(ct),
                headers: (!headers.is_empty()).then_some(headers),
                authorization,
                extra: Map::new(),
            })
        });
    let sip = (any::<bool>(), option::of(vec(("[A-Za-z-]{1,8}", word()), 0..3)), option::of(word())).prop_map(
        |(by_uri, headers, uui)| {
            let (uri, user, domain) = if by_uri {
                (Some("sip:alice@sip.example.com;transport=tls".to_owned()), None, None)
            } else {
                (None, Some("alice".to_owned()), Some("my-domain".to_owned()))
            };
            Endpoint::Sip(SipEndpoint {
                uri,
                user,
                domain,
                headers: headers.map(|h| h.into_iter().collect::<BTreeMap<_, _>>()),
                standard_headers: uui.map(|v| BTreeMap::from([("User-to-User".to_owned(), v)])),
                extra: Map::new(),
            })
        },
    );
    let vbc = "[0-9]{2,6}".prop_map(Endpoint::vbc);
    prop_oneof![phone, app, websocket, sip, vbc]
}

fn connect() -> impl Strategy<Value = Action> {
    (
        endpoint(),
        prop_oneof![Just((None, None)), number().prop_map(|n| (Some(n), None)), Just((None, Some(true)))],
        option::of(Just(EventType::Synchronous)),
        option::of(3u32..=7200),
        option::of(1u32..=7200),
        option::of(prop_oneof![Just(MachineBehavior::Continue), Just(MachineBehavior::Hangup)]),
        option::of((
            option::of(Just(MachineBehavior::Hangup)),
            option::of(Just(AmdMode::DetectBeep)),
            option::of(45u32..=120),
        )),
        option::of(urls()),
        method(),
        option::of(url()),
    )
        .prop_map(
            |(endpoint, (from, random), event_type, timeout, limit, md, amd, event_url, event_method, ringback)| {
                Action::Connect(Connect {
                    endpoint: vec![endpoint],
                    from,
                    random_from_number: random,
                    event_type,
                    timeout,
                    limit,
                    machine_detection: md,
                    advanced_machine_detection: amd.map(|(behavior, mode, beep_timeout)| AdvancedMachineDetection {
                        behavior,
                        mode,
                        beep_timeout,
                        extra: Map::new(),
                    }),
                    event_url,
                    event_method,
                    ringback_tone: ringback,
                    extra: Map::new(),
                })
            },
        )
}

fn input() -> impl Strategy<Value = Action> {
    let dtmf = (option::of(0u32..=10), option::of(1u32..=20), option::of(any::<bool>())).prop_map(
        |(time_out, max_digits, submit_on_hash)| Dtmf { time_out, max_digits, submit_on_hash, extra: Map::new() },
    );
    let speech = (
        option::of(Just(vec!["aaaaaaaa-bbbb-cccc-dddd-0123456789ab".to_owned()])),
        option::of(0.4f64..=10.0),
        option::of(vec(word(), 0..4)),
        option::of(1u32..=60),
        option::of(1u32..=60),
        option::of(any::<bool>()),
        option::of(0u32..=100),
    )
        .prop_map(|(uuid, end_on_silence, context, start_timeout, max_duration, save_audio, sensitivity)| Speech {
            uuid,
            end_on_silence,
            language: Some("en-GB".to_owned()),
            context,
            start_timeout,
            max_duration,
            save_audio,
            sensitivity,
            provider: None,
            provider_options: None,
            extra: Map::new(),
        });
    (option::of(dtmf), option::of(speech), option::of(urls()), method(), any::<bool>()).prop_map(
        |(dtmf, speech, event_url, event_method, asynchronous)| {
            if asynchronous {
                return Action::Input(Input::asynchronous_dtmf("https://example.com/dtmf"));
            }
            let mut r#type = Vec::new();
            if dtmf.is_some() || speech.is_none() {
                r#type.push(InputType::Dtmf);
            }
            if speech.is_some() {
                r#type.push(InputType::Speech);
            }
            Action::Input(Input { r#type, dtmf, speech, event_url, event_method, mode: None, extra: Map::new() })
        },
    )
}

fn notify() -> impl Strategy<Value = Action> {
    (extra(), url(), method()).prop_map(|(payload, url, event_method)| {
        Action::Notify(Notify::new(url).payload(payload).event_method(event_method.unwrap_or(EventMethod::Post)))
    })
}

fn wait() -> impl Strategy<Value = Action> {
    option::of(0.1f64..=7200.0).prop_map(|timeout| Action::Wait(Wait { timeout, extra: Map::new() }))
}

fn transfer() -> impl Strategy<Value = Action> {
    ("CON-[a-f0-9]{8}", option::of(vec(word(), 0..3)), option::of(any::<bool>())).prop_map(
        |(conversation_id, can_hear, mute)| {
            Action::Transfer(Transfer { conversation_id, can_hear, can_speak: None, mute, extra: Map::new() })
        },
    )
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![talk(), stream(), record(), conversation(), connect(), input(), notify(), wait(), transfer()]
}

fn ncco() -> impl Strategy<Value = Ncco> {
    vec(action(), 1..8).prop_map(Ncco)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn serialize_then_parse_is_the_identity(ncco in ncco()) {
        let json = ncco.to_json();
        let strict = Validator { mode: Mode::Strict, ..Validator::default() };
        let checked = strict.check_str(&json);
        // Generated extras are unknown keys, which strict mode refuses; check them leniently.
        let has_extra = json.contains("\"x_");
        if !has_extra {
            prop_assert!(checked.report.is_valid(), "{}\n{}", json, checked.report);
        }
        let parsed = Ncco::parse(&json).map_err(|r| TestCaseError::fail(format!("{json}\n{r}")))?;
        prop_assert_eq!(&parsed, &ncco);
        prop_assert_eq!(parsed.to_json(), json);
    }
}
