//! The one event bus into the console loop (yazi's model): every backend
//! task sends `Event`s here, and the loop takes one, applies whatever else
//! is already queued, then draws once.

use super::event::Event;
use tokio::sync::mpsc;

#[derive(Debug, Clone)]
pub(crate) struct Bus(mpsc::UnboundedSender<Event>);

impl Bus {
    pub(crate) fn new() -> (Self, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self(tx), rx)
    }

    /// Sends an event; after the loop has ended it goes nowhere, which is
    /// all a late backend event can do then.
    pub(crate) fn send(&self, ev: impl Into<Event>) {
        let _ = self.0.send(ev.into());
    }

    /// A sender for a backend API that takes a channel of its own event
    /// type: a small task maps each `T` onto the bus, in order, until every
    /// clone of the sender is dropped.
    pub(crate) fn forward<T: Send + 'static>(
        &self,
        map: impl Fn(T) -> Event + Send + 'static,
    ) -> mpsc::UnboundedSender<T> {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let bus = self.clone();
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                bus.send(map(ev));
            }
        });
        tx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_forwarded_channel_arrives_in_order_as_events() {
        let (bus, mut events) = Bus::new();
        let tx = bus.forward(|n: u16| Event::Resize(n, n));
        for n in 0..100 {
            tx.send(n).unwrap();
        }
        drop(tx);
        for n in 0..100 {
            match events.recv().await {
                Some(Event::Resize(w, h)) => assert_eq!((w, h), (n, n)),
                other => panic!("{other:?}"),
            }
        }
        bus.send(Event::Resize(7, 7));
        assert!(matches!(events.recv().await, Some(Event::Resize(7, 7))));
    }
}
