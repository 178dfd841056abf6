//! What the gateway knows of each model API: where a path goes, how the real key is
//! sent, what an error looks like to the CLI, and where the usage is in an answer —
//! streamed (server-sent events, read as they pass) or whole.

use serde_json::Value;

use crate::store::usage::Usage;

/// A model provider the gateway forwards to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Provider {
    Anthropic,
    OpenAi,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::Anthropic, Provider::OpenAi];

    /// The first segment of a gateway path.
    pub fn segment(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
        }
    }

    pub fn from_segment(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.segment() == s)
    }

    /// The base URL agents are given, under the gateway's: OpenAI's includes `/v1`,
    /// as `OPENAI_BASE_URL` does; Anthropic's does not, as `ANTHROPIC_BASE_URL`.
    pub fn agent_suffix(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai/v1",
        }
    }

    /// The variable in `plan`'s environment naming the upstream, and its default.
    pub fn upstream(self) -> (&'static str, &'static str) {
        match self {
            Provider::Anthropic => ("ANTHROPIC_BASE_URL", "https://api.anthropic.com"),
            Provider::OpenAi => ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        }
    }

    /// The real keys `plan` may hold, in the order they are looked for, with the
    /// header each is sent in.
    pub fn keys(self) -> &'static [(&'static str, KeyHeader)] {
        match self {
            Provider::Anthropic => &[
                ("ANTHROPIC_API_KEY", KeyHeader::XApiKey),
                ("ANTHROPIC_AUTH_TOKEN", KeyHeader::Bearer),
                ("CLAUDE_CODE_OAUTH_TOKEN", KeyHeader::Bearer),
            ],
            Provider::OpenAi => &[("OPENAI_API_KEY", KeyHeader::Bearer), ("CODEX_API_KEY", KeyHeader::Bearer)],
        }
    }

    /// A refusal in this provider's own error shape: the CLI reports it and stops.
    /// (Anthropic: `invalid_request_error`, as for a spent credit balance; OpenAI:
    /// `insufficient_quota`-like, with a 400 so that no CLI retries it.)
    pub fn error(self, status: u16, message: &str) -> (u16, Value) {
        let body = match self {
            Provider::Anthropic => serde_json::json!({
                "type": "error",
                "error": {"type": if status == 401 { "authentication_error" } else { "invalid_request_error" }, "message": message}
            }),
            Provider::OpenAi => serde_json::json!({
                "error": {"message": message, "type": "invalid_request_error", "param": null, "code": "plan_budget"}
            }),
        };
        (status, body)
    }
}

/// How a key goes on a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyHeader {
    /// `x-api-key: KEY` (Anthropic's API keys).
    XApiKey,
    /// `authorization: Bearer KEY`.
    Bearer,
}

/// Which API a request calls, by its path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// Anthropic Messages.
    Messages,
    /// OpenAI Responses.
    Responses,
    /// OpenAI Chat Completions.
    Chat,
    /// Anything else (model lists, token counts): forwarded, not metered.
    Other,
}

impl Api {
    pub fn of(path: &str) -> Api {
        let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        if path.ends_with("/messages") {
            Api::Messages
        } else if path.ends_with("/responses") {
            Api::Responses
        } else if path.ends_with("/chat/completions") {
            Api::Chat
        } else {
            Api::Other
        }
    }

    /// Whether a request to it is a model turn (metered, counted, budgeted).
    pub fn is_turn(self) -> bool {
        self != Api::Other
    }
}

/// What the gateway reads of a request body before it forwards it.
#[derive(Debug, Default, PartialEq)]
pub struct Request {
    pub model: Option<String>,
    pub stream: bool,
}

/// Reads a request body; for a streamed Chat Completions request that does not ask
/// for usage, asks for it (`stream_options.include_usage`): the only way its answer
/// says what it cost. Returns the body to forward.
pub fn inspect(api: Api, body: &[u8]) -> (Request, Option<Vec<u8>>) {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return (Request::default(), None);
    };
    let req = Request {
        model: v.get("model").and_then(Value::as_str).map(str::to_string),
        stream: v.get("stream").and_then(Value::as_bool).unwrap_or(false),
    };
    if api == Api::Chat && req.stream && v.pointer("/stream_options/include_usage").is_none() {
        if let Some(obj) = v.as_object_mut() {
            let options = obj.entry("stream_options").or_insert_with(|| serde_json::json!({}));
            if let Some(o) = options.as_object_mut() {
                o.insert("include_usage".into(), Value::Bool(true));
            }
            return (req, serde_json::to_vec(&v).ok());
        }
    }
    (req, None)
}

/// Usage as an answer gives it, read as the answer passes.
#[derive(Debug, Default)]
pub struct Meter {
    api: Option<Api>,
    /// A partial line of a streamed answer.
    partial: Vec<u8>,
    /// The whole of an answer that is not streamed (JSON, read at the end).
    whole: Vec<u8>,
    streamed: bool,
    pub usage: Usage,
    pub model: Option<String>,
    seen: bool,
}

/// The most of a whole (not streamed) answer kept to read its usage.
const WHOLE_MAX: usize = 16 << 20;

impl Meter {
    pub fn new(api: Api, streamed: bool) -> Meter {
        Meter { api: Some(api), streamed, ..Meter::default() }
    }

    /// A chunk of the answer, as it passes to the CLI.
    pub fn feed(&mut self, chunk: &[u8]) {
        if !self.streamed {
            if self.whole.len() + chunk.len() <= WHOLE_MAX {
                self.whole.extend_from_slice(chunk);
            }
            return;
        }
        self.partial.extend_from_slice(chunk);
        while let Some(end) = self.partial.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            self.line(&line);
        }
    }

    fn line(&mut self, line: &[u8]) {
        let Some(data) = line.strip_prefix(b"data:") else { return };
        let data = data.trim_ascii();
        // Only events that carry usage or the model are parsed.
        if !(contains(data, b"usage") || contains(data, b"\"model\"")) {
            return;
        }
        if let Ok(v) = serde_json::from_slice::<Value>(data) {
            self.event(&v);
        }
    }

    /// The answer is complete: what it used.
    pub fn finish(&mut self) -> Option<Usage> {
        if !self.streamed && !self.whole.is_empty() {
            if let Ok(v) = serde_json::from_slice::<Value>(&std::mem::take(&mut self.whole)) {
                self.event(&v);
            }
        }
        if !self.partial.is_empty() {
            let rest = std::mem::take(&mut self.partial);
            self.line(&rest);
        }
        self.seen.then_some(self.usage)
    }

    fn event(&mut self, v: &Value) {
        let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64);
        match self.api {
            Some(Api::Messages) => {
                // Streamed: `message_start` has the input side, `message_delta` the
                // output so far (and, from some versions, the input side again).
                let (usage, model) = match v.get("type").and_then(Value::as_str) {
                    Some("message_start") => (v.pointer("/message/usage"), v.pointer("/message/model")),
                    Some("message_delta") => (v.get("usage"), None),
                    _ => (v.get("usage"), v.get("model")),
                };
                self.model_from(model);
                let Some(u) = usage else { return };
                self.seen = true;
                let fresh = n(u, "input_tokens");
                let write = n(u, "cache_creation_input_tokens");
                let read = n(u, "cache_read_input_tokens");
                let m = &mut self.usage;
                if fresh.is_some() || write.is_some() || read.is_some() {
                    m.cache_write_tokens = write.unwrap_or(m.cache_write_tokens);
                    m.cache_read_tokens = read.unwrap_or(m.cache_read_tokens);
                    let fresh = fresh.unwrap_or(m.input_tokens - m.cache_write_tokens.min(m.input_tokens));
                    m.input_tokens = fresh + m.cache_write_tokens + m.cache_read_tokens;
                }
                if let Some(out) = n(u, "output_tokens") {
                    m.output_tokens = out;
                }
            }
            Some(Api::Responses) => {
                let response = match v.get("type").and_then(Value::as_str) {
                    Some(t) if t.starts_with("response.") => v.get("response"),
                    _ => Some(v),
                };
                let Some(r) = response else { return };
                self.model_from(r.get("model"));
                let Some(u) = r.get("usage").filter(|u| u.is_object()) else { return };
                self.seen = true;
                self.usage.input_tokens = n(u, "input_tokens").unwrap_or(0);
                self.usage.cache_read_tokens =
                    u.pointer("/input_tokens_details/cached_tokens").and_then(Value::as_u64).unwrap_or(0);
                self.usage.output_tokens = n(u, "output_tokens").unwrap_or(0);
            }
            Some(Api::Chat) => {
                self.model_from(v.get("model"));
                let Some(u) = v.get("usage").filter(|u| u.is_object()) else { return };
                self.seen = true;
                self.usage.input_tokens = n(u, "prompt_tokens").unwrap_or(0);
                self.usage.cache_read_tokens =
                    u.pointer("/prompt_tokens_details/cached_tokens").and_then(Value::as_u64).unwrap_or(0);
                self.usage.output_tokens = n(u, "completion_tokens").unwrap_or(0);
            }
            _ => {}
        }
    }

    fn model_from(&mut self, model: Option<&Value>) {
        if let Some(m) = model.and_then(Value::as_str).filter(|m| !m.is_empty()) {
            self.model = Some(m.to_string());
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(api: Api, text: &str, cut: usize) -> Usage {
        let mut m = Meter::new(api, true);
        // Chunks that cut lines anywhere.
        for chunk in text.as_bytes().chunks(cut) {
            m.feed(chunk);
        }
        m.finish().expect("usage")
    }

    #[test]
    fn anthropic_usage_comes_from_message_start_and_delta() {
        let sse = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"model\":\"claude-x\",\"usage\":{\"input_tokens\":30,\"cache_creation_input_tokens\":100,\"cache_read_input_tokens\":200,\"output_tokens\":1}}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"text\":\"hi\"}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":15}}\n\n";
        for cut in [1, 7, 4096] {
            let u = stream(Api::Messages, sse, cut);
            assert_eq!(
                (u.input_tokens, u.cache_write_tokens, u.cache_read_tokens, u.output_tokens),
                (330, 100, 200, 15)
            );
        }
    }

    #[test]
    fn responses_and_chat_usage_count_cached_input_as_part_of_input() {
        let sse = "event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"model\":\"gpt-5.5\",\"usage\":{\"input_tokens\":120,\"input_tokens_details\":{\"cached_tokens\":100},\"output_tokens\":7}}}\n\n";
        let u = stream(Api::Responses, sse, 5);
        assert_eq!((u.input_tokens, u.cache_read_tokens, u.output_tokens), (120, 100, 7));
        let chat = "data: {\"model\":\"mock\",\"choices\":[]}\n\ndata: {\"model\":\"mock\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":3}}\n\ndata: [DONE]\n\n";
        let u = stream(Api::Chat, chat, 3);
        assert_eq!((u.input_tokens, u.output_tokens), (9, 3));
        let mut whole = Meter::new(Api::Messages, false);
        whole.feed(br#"{"model":"claude-x","usage":{"input_tokens":5,"output_tokens":2}}"#);
        assert_eq!(whole.finish().map(|u| u.tokens()), Some(7));
        assert_eq!(whole.model.as_deref(), Some("claude-x"));
    }

    #[test]
    fn a_streamed_chat_request_is_asked_for_its_usage() {
        let (req, body) = inspect(Api::Chat, br#"{"model":"mock","stream":true,"messages":[]}"#);
        assert_eq!(req, Request { model: Some("mock".into()), stream: true });
        let body: Value = serde_json::from_slice(&body.unwrap()).unwrap();
        assert_eq!(body["stream_options"]["include_usage"], true);
        assert_eq!(inspect(Api::Messages, br#"{"model":"m","stream":true}"#).1, None);
        assert_eq!(Api::of("/v1/messages?beta=true"), Api::Messages);
        assert_eq!(Api::of("/v1/models"), Api::Other);
    }
}
