//! Cross-shard calls: "run this on shard N and give me the answer".
//!
//! Every ordered pair of shards has one bounded glommio shared channel (a
//! lock-free single-producer single-consumer ring). A call moves an owned
//! closure (and whatever buffers it captured) to the target shard, which runs
//! the future the closure returns on its own executor and moves the result
//! back on the reverse channel. Calls to the local shard run inline, without a
//! channel. Nothing here locks; a full channel makes the caller wait, which is
//! the back-pressure a busy shard exerts on the others.
//!
//! Order: a job's closure is called (its synchronous part runs) in the order
//! the jobs were sent from one shard, because each channel is FIFO and the
//! target calls every closure from its receive loop before it spawns the
//! future the closure returned. Callers that must keep an order (the produce
//! path keeps each connection's appends in request order) put the step
//! whose order matters into the closure's synchronous part and send their
//! jobs one after the other with [`Mesh::send`].

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Poll, Waker};

use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};

/// Index of a shard, `0..shard_count`.
pub type ShardId = usize;

/// A value crossing shards: anything `Send`.
pub type AnyValue = Box<dyn Any + Send>;
/// A future running on its target shard.
pub type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;
/// Work sent to another shard: built there from the shard's own context.
pub type Job<C> = Box<dyn FnOnce(Rc<C>) -> LocalFuture<AnyValue> + Send>;

/// What travels on a channel.
pub enum Envelope<C> {
    Call { id: u64, from: ShardId, job: Job<C> },
    Reply { id: u64, value: AnyValue },
}

/// The channel ends one shard owns before it has connected them: built on the
/// main thread, moved to the shard's executor.
pub struct MeshEnds<C> {
    pub shard: ShardId,
    senders: Vec<Option<SharedSender<Envelope<C>>>>,
    receivers: Vec<Option<SharedReceiver<Envelope<C>>>>,
}

/// Builds the full mesh for `shard_count` shards; element `i` goes to shard `i`.
pub fn build<C: 'static>(shard_count: usize, capacity: usize) -> Vec<MeshEnds<C>> {
    let mut ends: Vec<MeshEnds<C>> = (0..shard_count)
        .map(|shard| MeshEnds {
            shard,
            senders: (0..shard_count).map(|_| None).collect(),
            receivers: (0..shard_count).map(|_| None).collect(),
        })
        .collect();
    for from in 0..shard_count {
        for to in 0..shard_count {
            if from != to {
                let (tx, rx) = shared_channel::new_bounded(capacity);
                ends[from].senders[to] = Some(tx);
                ends[to].receivers[from] = Some(rx);
            }
        }
    }
    ends
}

/// One shard's side of the mesh, connected on its executor.
pub struct Mesh<C> {
    shard: ShardId,
    senders: Vec<Option<ConnectedSender<Envelope<C>>>>,
    next_call_id: Cell<u64>,
    pending: Rc<Pending>,
}

/// Calls sent from this shard whose replies have not arrived, by call id.
type Pending = RefCell<HashMap<u64, Rc<Slot>>>;

/// Where a reply lands and who waits for it.
#[derive(Default)]
struct Slot {
    value: RefCell<Option<AnyValue>>,
    waker: RefCell<Option<Waker>>,
}

#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("shard {0} is gone (shutting down)")]
pub struct ShardGone(pub ShardId);

impl<C: 'static> Mesh<C> {
    /// Connects this shard's ends. Returns the mesh and the receivers, which
    /// [`Mesh::serve`] drains.
    pub async fn connect(
        ends: MeshEnds<C>,
    ) -> (Rc<Self>, Vec<(ShardId, ConnectedReceiver<Envelope<C>>)>) {
        // Both ends of a shared channel wait for each other while connecting,
        // so every end is connected concurrently, as its own task.
        let senders: Vec<_> = ends
            .senders
            .into_iter()
            .map(|s| s.map(|s| glommio::spawn_local(s.connect())))
            .collect();
        let receivers: Vec<_> = ends
            .receivers
            .into_iter()
            .enumerate()
            .filter_map(|(from, r)| r.map(|r| (from, glommio::spawn_local(r.connect()))))
            .collect();
        let mut connected_senders = Vec::with_capacity(senders.len());
        for sender in senders {
            connected_senders.push(match sender {
                Some(task) => Some(task.await),
                None => None,
            });
        }
        let mut connected_receivers = Vec::with_capacity(receivers.len());
        for (from, task) in receivers {
            connected_receivers.push((from, task.await));
        }
        let senders = connected_senders;
        let receivers = connected_receivers;
        let mesh = Rc::new(Self {
            shard: ends.shard,
            senders,
            next_call_id: Cell::new(0),
            pending: Rc::new(RefCell::new(HashMap::new())),
        });
        (mesh, receivers)
    }

    pub fn shard(&self) -> ShardId {
        self.shard
    }

    pub fn shard_count(&self) -> usize {
        self.senders.len()
    }

    /// Drains the channel from one peer until the peer closes it: runs calls
    /// and completes the replies this shard waits for. A call's closure is
    /// called here, in channel order; the future it returns runs as its own
    /// task, so one slow call never blocks the channel.
    pub async fn serve(
        self: Rc<Self>,
        context: Rc<C>,
        from: ShardId,
        receiver: ConnectedReceiver<Envelope<C>>,
    ) {
        while let Some(envelope) = receiver.recv().await {
            match envelope {
                Envelope::Call {
                    id,
                    from: caller,
                    job,
                } => {
                    debug_assert_eq!(caller, from);
                    let mesh = self.clone();
                    let reply = job(context.clone());
                    glommio::spawn_local(async move {
                        let value = reply.await;
                        let sender = mesh.senders[caller].as_ref().expect("no channel to self");
                        // The caller may be shutting down; then nobody waits.
                        let _ = sender.send(Envelope::Reply { id, value }).await;
                    })
                    .detach();
                }
                Envelope::Reply { id, value } => {
                    let slot = self.pending.borrow_mut().remove(&id);
                    // A missing slot means the caller gave up (its task was dropped).
                    if let Some(slot) = slot {
                        *slot.value.borrow_mut() = Some(value);
                        if let Some(waker) = slot.waker.borrow_mut().take() {
                            waker.wake();
                        }
                    }
                }
            }
        }
    }

    /// Runs `job` on shard `target` and returns its result. On the local shard
    /// the job runs inline.
    pub async fn call<R, F>(&self, context: &Rc<C>, target: ShardId, job: F) -> Result<R, ShardGone>
    where
        R: Send + 'static,
        F: FnOnce(Rc<C>) -> LocalFuture<R> + Send + 'static,
    {
        if target == self.shard {
            return Ok(job(context.clone()).await);
        }
        Ok(self.send(context, target, job).await?.await)
    }

    /// Hands `job` to shard `target` and returns once it is on its way, with
    /// the future of its reply. Jobs sent one after the other from this shard
    /// have their closures called in that order (see the module doc); on the
    /// local shard the closure is called before this returns and its future
    /// starts as a task of its own, as it would on another shard.
    pub async fn send<R, F>(
        &self,
        context: &Rc<C>,
        target: ShardId,
        job: F,
    ) -> Result<Reply<R>, ShardGone>
    where
        R: Send + 'static,
        F: FnOnce(Rc<C>) -> LocalFuture<R> + Send + 'static,
    {
        if target == self.shard {
            return Ok(Reply::Local(glommio::spawn_local(job(context.clone()))));
        }
        let sender = self.senders[target].as_ref().ok_or(ShardGone(target))?;
        let id = self.next_call_id.get();
        self.next_call_id.set(id + 1);
        let slot = Rc::new(Slot::default());
        self.pending.borrow_mut().insert(id, slot.clone());
        let waiting = Waiting {
            pending: self.pending.clone(),
            id,
            slot,
        };
        let boxed: Job<C> = Box::new(move |ctx| {
            let fut = job(ctx);
            Box::pin(async move { Box::new(fut.await) as AnyValue })
        });
        let envelope = Envelope::Call {
            id,
            from: self.shard,
            job: boxed,
        };
        // On failure `waiting` is dropped and forgets the call.
        sender.send(envelope).await.map_err(|_| ShardGone(target))?;
        Ok(Reply::Remote(waiting))
    }

    /// Closes this shard's outgoing channels so that peers' `serve` loops end.
    pub fn close(&self) {
        for sender in self.senders.iter().flatten() {
            sender.close();
        }
    }
}

/// The answer to a job handed out with [`Mesh::send`].
pub enum Reply<R> {
    /// The job runs on the calling shard, as this task.
    Local(glommio::Task<R>),
    /// The job went to another shard; its answer comes back on the channel.
    Remote(Waiting),
}

/// A call sent to another shard. Dropping it forgets the call: the reply,
/// if it still comes, is discarded.
pub struct Waiting {
    pending: Rc<Pending>,
    id: u64,
    slot: Rc<Slot>,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.pending.borrow_mut().remove(&self.id);
    }
}

impl<R: Send + 'static> Future for Reply<R> {
    type Output = R;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        // Both variants are Unpin (a task handle, plain data).
        match self.get_mut() {
            Reply::Local(task) => Pin::new(task).poll(cx),
            Reply::Remote(waiting) => {
                if let Some(value) = waiting.slot.value.borrow_mut().take() {
                    let value = value.downcast::<R>().expect("reply type matches the call");
                    return Poll::Ready(*value);
                }
                *waiting.slot.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use glommio::LocalExecutorBuilder;

    /// A stand-in for a shard's state: its id and a counter only it touches.
    struct Context {
        id: ShardId,
        calls_served: Cell<u32>,
    }

    #[test]
    fn calls_run_on_the_target_shard_and_replies_come_back() {
        let ends = build::<Context>(2, 4);
        let handles: Vec<_> = ends
            .into_iter()
            .map(|ends| {
                LocalExecutorBuilder::default()
                    .spawn(move || async move {
                        let id = ends.shard;
                        let (mesh, receivers) = Mesh::connect(ends).await;
                        let context = Rc::new(Context {
                            id,
                            calls_served: Cell::new(0),
                        });
                        let servers: Vec<_> = receivers
                            .into_iter()
                            .map(|(from, r)| {
                                glommio::spawn_local(mesh.clone().serve(context.clone(), from, r))
                            })
                            .collect();
                        let peer = 1 - id;
                        // More calls than the channel holds: the sender must wait, not fail.
                        let mut answers = Vec::new();
                        for i in 0..10u32 {
                            let payload = vec![i as u8; 1000];
                            let answer = mesh
                                .call(&context, peer, move |ctx: Rc<Context>| {
                                    Box::pin(async move {
                                        ctx.calls_served.set(ctx.calls_served.get() + 1);
                                        (ctx.id, payload.len(), payload[0])
                                    }) as LocalFuture<_>
                                })
                                .await
                                .unwrap();
                            answers.push(answer);
                        }
                        let local = mesh
                            .call(&context, id, |ctx: Rc<Context>| {
                                Box::pin(async move { ctx.id }) as LocalFuture<_>
                            })
                            .await
                            .unwrap();
                        assert_eq!(local, id);
                        // Both shards must finish calling before either closes.
                        while context.calls_served.get() < 10 {
                            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
                        }
                        glommio::timer::sleep(std::time::Duration::from_millis(20)).await;
                        mesh.close();
                        for s in servers {
                            s.await;
                        }
                        (id, answers)
                    })
                    .unwrap()
            })
            .collect();
        for handle in handles {
            let (id, answers) = handle.join().unwrap();
            let expected: Vec<(usize, usize, u8)> =
                (0..10u8).map(|i| (1 - id, 1000usize, i)).collect();
            assert_eq!(answers, expected);
        }
    }
}
