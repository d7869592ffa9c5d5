//! The queue between admission and the decode stage, fair between accounts:
//! each account's jobs wait in their own FIFO and the accounts are served in
//! turn, so one uploader's burst delays another's job by at most one of its
//! jobs per turn, never by the whole burst.
//!
//! It holds no bound of its own: admission's `in_flight` slots bound what
//! can be in it. It closes when the last [`FairSender`] is dropped; the
//! receivers then drain what is left and see the end.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex};

struct State<T> {
    /// Each account's waiting items, oldest first; an account is here only
    /// while it has some.
    waiting: HashMap<String, VecDeque<T>>,
    /// Accounts with waiting items, in the order they are served.
    turns: VecDeque<String>,
    closed: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

/// The sending side; clones share it, the last one dropped closes the queue.
pub struct FairSender<T> {
    shared: Arc<Shared<T>>,
    _closer: Arc<Closer<T>>,
}

impl<T> Clone for FairSender<T> {
    fn clone(&self) -> Self {
        FairSender {
            shared: self.shared.clone(),
            _closer: self._closer.clone(),
        }
    }
}

/// Closes the queue when dropped (once every sender is gone).
struct Closer<T>(Arc<Shared<T>>);

impl<T> Drop for Closer<T> {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.state.lock() {
            state.closed = true;
        }
        self.0.ready.notify_all();
    }
}

/// The receiving side; clones take from the same queue.
pub struct FairReceiver<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Clone for FairReceiver<T> {
    fn clone(&self) -> Self {
        FairReceiver {
            shared: self.shared.clone(),
        }
    }
}

/// A new, empty, open queue.
pub fn fair_queue<T>() -> (FairSender<T>, FairReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            waiting: HashMap::new(),
            turns: VecDeque::new(),
            closed: false,
        }),
        ready: Condvar::new(),
    });
    let sender = FairSender {
        shared: shared.clone(),
        _closer: Arc::new(Closer(shared.clone())),
    };
    (sender, FairReceiver { shared })
}

impl<T> FairSender<T> {
    /// Queues `item` behind `account`'s earlier ones; gives it back when the
    /// queue is closed (a poisoned lock counts as closed).
    pub fn send(&self, account: &str, item: T) -> Result<(), T> {
        let Ok(mut state) = self.shared.state.lock() else {
            return Err(item);
        };
        if state.closed {
            return Err(item);
        }
        match state.waiting.get_mut(account) {
            Some(queue) => queue.push_back(item),
            None => {
                state
                    .waiting
                    .insert(account.to_string(), VecDeque::from([item]));
                state.turns.push_back(account.to_string());
            }
        }
        drop(state);
        self.shared.ready.notify_one();
        Ok(())
    }
}

impl<T> FairReceiver<T> {
    /// The oldest item of the account whose turn it is, waiting for one;
    /// `None` once the queue is closed and empty.
    pub fn recv(&self) -> Option<T> {
        let mut state = self.shared.state.lock().ok()?;
        loop {
            if let Some(item) = state.next() {
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self.shared.ready.wait(state).ok()?;
        }
    }
}

impl<T> State<T> {
    /// Takes one item of the first account in turn, which then goes last.
    fn next(&mut self) -> Option<T> {
        let account = self.turns.pop_front()?;
        let queue = self.waiting.get_mut(&account)?;
        let item = queue.pop_front();
        if queue.is_empty() {
            self.waiting.remove(&account);
        } else {
            self.turns.push_back(account);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_served_in_turn_each_in_its_own_order() {
        let (tx, rx) = fair_queue();
        for i in 0..4 {
            tx.send("a", format!("a{i}")).unwrap();
        }
        tx.send("b", "b0".to_string()).unwrap();
        tx.send("c", "c0".to_string()).unwrap();
        tx.send("b", "b1".to_string()).unwrap();
        drop(tx);
        let order: Vec<String> = std::iter::from_fn(|| rx.recv()).collect();
        assert_eq!(order, ["a0", "b0", "c0", "a1", "b1", "a2", "a3"]);
    }

    #[test]
    fn an_account_that_comes_back_waits_for_its_turn() {
        let (tx, rx) = fair_queue();
        tx.send("a", 1).unwrap();
        tx.send("a", 2).unwrap();
        assert_eq!(rx.recv(), Some(1));
        tx.send("b", 10).unwrap();
        assert_eq!(rx.recv(), Some(2));
        assert_eq!(rx.recv(), Some(10));
        // Emptied, "a" starts a new turn behind whoever is waiting.
        tx.send("b", 11).unwrap();
        tx.send("a", 3).unwrap();
        assert_eq!(rx.recv(), Some(11));
        assert_eq!(rx.recv(), Some(3));
    }

    #[test]
    fn closes_when_the_last_sender_goes_and_drains_first() {
        let (tx, rx) = fair_queue();
        let other = tx.clone();
        tx.send("a", 1).unwrap();
        drop(tx);
        other.send("a", 2).unwrap();
        let waiting = {
            let rx = rx.clone();
            std::thread::spawn(move || std::iter::from_fn(|| rx.recv()).collect::<Vec<_>>())
        };
        std::thread::sleep(std::time::Duration::from_millis(20));
        drop(other);
        assert_eq!(waiting.join().unwrap(), [1, 2]);
        assert_eq!(rx.recv(), None);
    }

    #[test]
    fn a_receiver_waits_for_a_sender() {
        let (tx, rx) = fair_queue();
        let waiting = std::thread::spawn(move || rx.recv());
        std::thread::sleep(std::time::Duration::from_millis(20));
        tx.send("a", 7).unwrap();
        assert_eq!(waiting.join().unwrap(), Some(7));
    }
}
