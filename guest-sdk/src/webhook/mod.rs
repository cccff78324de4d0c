//! Webhooks Vonage sends: the answer request, call events, and Conversation API events.
