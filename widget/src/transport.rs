//! Delivering events exactly once: every event gets a unique id, waits in a persistent queue
//! until the edge has answered for it, and may be sent more than once (retries, beacons on
//! page exit, a fetch still in flight when the shopper clicks away). The edge stores each id
//! once, so "at least once" here becomes "exactly once" there.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use rapport_protocol::MAX_BATCH_EVENTS;
use wasm_bindgen::JsValue;

use crate::dom;
use crate::wire;

/// Events kept while the edge cannot be reached; past this the oldest are dropped, so a
/// shopper offline for a long time never fills the shop's storage.
const QUEUE_LIMIT: usize = 500;
const FLUSH_DELAY_MS: i32 = 1_000;
const MAX_RETRY_MS: i32 = 60_000;

pub struct Transport {
    url: String,
    site: String,
    /// Empty until the shopper may be identified (see `app::new`).
    visitor_id: RefCell<String>,
    queue_key: String,
    /// Used only when `localStorage` is unavailable. Queued events are kept as the objects
    /// sent on the wire; only their ids are ever read back.
    memory: RefCell<Vec<JsValue>>,
    flush_scheduled: Cell<bool>,
    retry_ms: Cell<i32>,
}

impl Transport {
    pub fn new(endpoint: &str, site: &str, visitor_id: &str) -> Transport {
        Transport {
            url: dom::cat(&[endpoint, "/v1/events"]),
            site: site.to_owned(),
            visitor_id: RefCell::new(visitor_id.to_owned()),
            queue_key: dom::cat(&["rapport:queue:", site]),
            memory: RefCell::new(Vec::new()),
            flush_scheduled: Cell::new(false),
            retry_ms: Cell::new(2_000),
        }
    }

    pub fn visitor_id(&self) -> String {
        self.visitor_id.borrow().clone()
    }

    pub fn set_visitor_id(&self, id: String) {
        self.visitor_id.replace(id);
    }

    /// Queues an event (`{type, ...}`) with a new id, the session and the time.
    pub fn enqueue(&self, session_id: &str, data: &JsValue) {
        let event = wire::event(&dom::random_id(), session_id, dom::now_ms(), data);
        self.update_queue(|queue| {
            queue.push(event);
            let excess = queue.len().saturating_sub(QUEUE_LIMIT);
            queue.drain(..excess);
        });
    }

    /// Drops everything queued and not yet sent (consent withdrawn, or `forget`).
    pub fn clear(&self) {
        self.update_queue(Vec::clear);
    }

    /// Reads, changes and writes the queue in one synchronous step, so other tabs of the shop
    /// (which share the stored queue) cannot interleave with it.
    fn update_queue(&self, change: impl FnOnce(&mut Vec<JsValue>)) {
        let (stored, mut queue) = self.read_queue();
        change(&mut queue);
        if !stored {
            self.memory.replace(queue);
        } else if queue.is_empty() {
            // An empty queue is no key at all: once everything is delivered, or consent is
            // withdrawn, the browser keeps nothing of it (even when an answer arrives after
            // the withdrawal).
            dom::storage_remove(&self.queue_key);
        } else {
            let list: js_sys::Array = queue.iter().collect();
            dom::storage_set(&self.queue_key, &wire::stringify(&list));
        }
    }

    fn load_queue(&self) -> Vec<JsValue> {
        self.read_queue().1
    }

    /// The queue, from storage (`true`) or, where storage is disabled, from memory.
    fn read_queue(&self) -> (bool, Vec<JsValue>) {
        match dom::storage_read(&self.queue_key) {
            Ok(json) => (
                true,
                json.and_then(|json| wire::parse(&json))
                    .filter(js_sys::Array::is_array)
                    .map(|list| js_sys::Array::from(&list).iter().collect())
                    .unwrap_or_default(),
            ),
            Err(_) => (false, self.memory.borrow().clone()),
        }
    }

    fn batch(&self, events: &[JsValue]) -> String {
        wire::batch(&self.site, &self.visitor_id.borrow(), events)
    }

    /// What waits to be sent, a batch's worth, oldest first: nothing while the shopper has
    /// no visitor id. A decision request carries it, so a page view is one round trip.
    pub fn waiting(&self) -> Vec<JsValue> {
        if self.visitor_id.borrow().is_empty() {
            return Vec::new();
        }
        let mut queue = self.load_queue();
        queue.truncate(MAX_BATCH_EVENTS);
        queue
    }

    /// Sends everything queued, a batch at a time.
    pub fn flush(self: &Rc<Self>) {
        let chunk = self.waiting();
        if chunk.is_empty() {
            return;
        }
        let sent = ids(&chunk);
        let transport = Rc::clone(self);
        let answered: dom::Answered =
            Box::new(move |status, _| transport.answered(&sent, delivery(status)));
        dom::post(&self.url, &self.batch(&chunk), true, answered);
    }

    /// The edge answered for the events `sent` (`done`: whatever it stored, already had,
    /// withheld or refused for good, it is done with), and what is left goes at once; or it
    /// could not, and they stay for a retry with backoff.
    pub fn answered(self: &Rc<Self>, sent: &[String], done: bool) {
        if !done {
            return self.schedule_retry();
        }
        // An event without an id cannot be delivered and goes too, so every answer shortens
        // the queue and the next batch is a new one.
        self.update_queue(|queue| {
            queue.retain(|e| wire::text(e, "id").is_some_and(|id| !sent.contains(&id)))
        });
        self.retry_ms.set(2_000);
        self.flush();
    }

    /// Flushes soon, coalescing the events of the next second into one request.
    pub fn schedule_flush(self: &Rc<Self>) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let transport = Rc::clone(self);
        dom::set_timeout(FLUSH_DELAY_MS, move || {
            transport.flush_scheduled.set(false);
            transport.flush();
        });
    }

    fn schedule_retry(self: &Rc<Self>) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let delay = self.retry_ms.get();
        self.retry_ms.set((delay * 2).min(MAX_RETRY_MS));
        let transport = Rc::clone(self);
        dom::set_timeout(delay, move || {
            transport.flush_scheduled.set(false);
            transport.flush();
        });
    }

    /// On page exit (`pagehide`, or the tab going to the background; the loader says so),
    /// hands whatever is queued to `sendBeacon`. The events stay queued until an answer says
    /// they arrived; a copy sent twice is stored once.
    pub fn beacon(&self) {
        let queue = self.load_queue();
        if queue.is_empty() {
            return;
        }
        for chunk in queue.chunks(MAX_BATCH_EVENTS) {
            dom::send_beacon(&self.url, &self.batch(chunk));
        }
    }
}

/// The ids of `events`, as sent.
pub fn ids(events: &[JsValue]) -> Vec<String> {
    events.iter().filter_map(|e| wire::text(e, "id")).collect()
}

/// Whether an answer to a batch is the edge done with the events in it.
fn delivery(status: u16) -> bool {
    // No answer, too many requests and server errors are worth another try; other refusals
    // mean the batch can never be accepted as it is, and keeping it would block the queue.
    if status == 0 || status == 429 || status >= 500 {
        return false;
    }
    if !(200..300).contains(&status) {
        dom::warn(&dom::cat(&[
            "rapport: the edge refused a batch (HTTP ",
            &dom::decimal(status.into()),
            ")",
        ]));
    }
    true
}
