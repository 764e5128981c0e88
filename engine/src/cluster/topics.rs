//! Changes to the topic catalogue, run on the catalogue shard and then applied
//! on every shard: create (explicit or automatic), delete, and producer-id
//! allocation. The controller shard runs changes one at a time in the order
//! they reached it (its [`super::Controller`]'s sequencer), so one
//! connection's changes apply in its request order; nothing here is on the
//! produce/fetch path except the first produce to a topic that does not
//! exist yet.

use std::future::Future;
use std::rc::Rc;

use super::catalogue::{Catalogue, TopicError, TopicMeta, PRODUCER_ID_BLOCK};
use crate::shard::mesh::{Reply, ShardGone};
use crate::shard::Shard;

/// A topic to create.
#[derive(Debug, Clone)]
pub struct NewTopic {
    pub name: String,
    pub partitions: i32,
    pub replication_factor: i16,
    pub configs: Vec<(String, String)>,
}

/// Hands `job` to the controller shard, where it runs in its turn: after
/// every change that reached the shard before it. Returns once the job is on
/// its way (in this shard's order), with the future of its answer.
async fn on_controller_shard<R, F, Fut>(shard: &Rc<Shard>, job: F) -> Result<Reply<R>, ShardGone>
where
    R: Send + 'static,
    F: FnOnce(Rc<Shard>) -> Fut + Send + 'static,
    Fut: Future<Output = R> + 'static,
{
    let target = shard.metadata.controller_shard();
    shard
        .send(target, move |controller_shard| {
            assert!(controller_shard.is_controller_shard());
            let ticket = controller_shard.controller.order.ticket();
            async move {
                let _turn = ticket.turn().await;
                job(controller_shard).await
            }
        })
        .await
}

/// Runs `job` for each item, one after the other, on the catalogue shard;
/// one result per item, in order. Returns once the job is on its way.
async fn each_on_controller_shard<T, F, Fut>(
    shard: &Rc<Shard>,
    items: Vec<T>,
    job: F,
) -> impl Future<Output = Vec<Result<TopicMeta, TopicError>>> + 'static
where
    T: Send + 'static,
    F: Fn(Rc<Shard>, T) -> Fut + Send + 'static,
    Fut: Future<Output = Result<TopicMeta, TopicError>> + 'static,
{
    let count = items.len();
    let reply = on_controller_shard(shard, move |controller_shard| async move {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(job(controller_shard.clone(), item).await);
        }
        out
    })
    .await;
    async move {
        match reply {
            Ok(reply) => reply.await,
            Err(gone) => vec![Err(TopicError::ShardGone(gone)); count],
        }
    }
}

/// Creates `topics` (each independently), or only validates them with
/// `validate_only`. Returns once the request is on its way to the catalogue
/// shard, with the future of one result per topic, in order.
pub async fn create(
    shard: &Rc<Shard>,
    topics: Vec<NewTopic>,
    validate_only: bool,
) -> impl Future<Output = Vec<Result<TopicMeta, TopicError>>> + 'static {
    each_on_controller_shard(shard, topics, move |controller_shard, topic| async move {
        create_on_controller_shard(&controller_shard, topic, validate_only).await
    })
    .await
}

/// Makes sure `name` exists, creating it with the default partition count if
/// auto-creation is on. Returns the topic's partition count.
pub async fn ensure(shard: &Rc<Shard>, name: &str) -> Result<i32, TopicError> {
    if let Some(partitions) = shard.metadata.partition_count(name) {
        return Ok(partitions);
    }
    if !shard.config.topics.auto_create {
        return Err(TopicError::Unknown);
    }
    let topic = NewTopic {
        name: name.to_string(),
        partitions: shard.config.topics.default_partitions,
        replication_factor: -1,
        configs: Vec::new(),
    };
    match create(shard, vec![topic], false)
        .await
        .await
        .pop()
        .expect("one result per topic")
    {
        Ok(meta) => Ok(meta.partitions),
        // Someone else created it meanwhile: fine.
        Err(TopicError::AlreadyExists) => shard
            .metadata
            .partition_count(name)
            .ok_or(TopicError::Unknown),
        Err(e) => Err(e),
    }
}

async fn create_on_controller_shard(
    shard: &Rc<Shard>,
    topic: NewTopic,
    validate_only: bool,
) -> Result<TopicMeta, TopicError> {
    let meta = shard.metadata.catalogue().check_new_topic(
        &topic.name,
        topic.partitions,
        topic.replication_factor,
        &topic.configs,
    )?;
    if validate_only {
        return Ok(meta);
    }
    let mut next = shard.metadata.catalogue().clone();
    next.topics.insert(topic.name.clone(), meta.clone());
    store(shard, next).await?;
    tracing::info!(topic = %topic.name, partitions = meta.partitions, configs = ?meta.configs, "topic created");
    // Every shard learns of the topic and opens the partitions it owns; the
    // creation is answered once all of them can serve it.
    let name = topic.name.clone();
    let applied_meta = meta.clone();
    let results = shard
        .call_all(move |s| {
            let name = name.clone();
            let meta = applied_meta.clone();
            async move { apply_created(&s, &name, &meta).await }
        })
        .await;
    for result in results {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(gone) => return Err(TopicError::ShardGone(gone)),
        }
    }
    Ok(meta)
}

async fn apply_created(shard: &Rc<Shard>, name: &str, meta: &TopicMeta) -> Result<(), TopicError> {
    shard.metadata.topic_created(name, meta);
    for index in 0..meta.partitions {
        if shard.metadata.shard_for(name, index) == shard.id {
            shard
                .partitions
                .open_one(name, index, meta)
                .await
                .map_err(|source| TopicError::OpenPartition {
                    topic: name.to_string(),
                    index,
                    source,
                })?;
        }
    }
    Ok(())
}

/// Deletes the named topics. Returns once the request is on its way to the
/// catalogue shard, with the future of one result per name, in order.
pub async fn delete(
    shard: &Rc<Shard>,
    names: Vec<String>,
) -> impl Future<Output = Vec<Result<TopicMeta, TopicError>>> + 'static {
    each_on_controller_shard(shard, names, |controller_shard, name| async move {
        delete_on_controller_shard(&controller_shard, name).await
    })
    .await
}

async fn delete_on_controller_shard(
    shard: &Rc<Shard>,
    name: String,
) -> Result<TopicMeta, TopicError> {
    let mut next = shard.metadata.catalogue().clone();
    let meta = next.topics.remove(&name).ok_or(TopicError::Unknown)?;
    // Durable first: after a crash the topic is gone, and leftover partition
    // directories of unknown topics are harmless.
    store(shard, next).await?;
    let results = shard
        .call_all(move |s| {
            let name = name.clone();
            async move {
                s.metadata.topic_deleted(&name);
                s.groups.forget_topic(&name).await;
                s.partitions.delete_topic(&name).await.map_err(|source| {
                    TopicError::DeletePartitions {
                        topic: name.clone(),
                        source,
                    }
                })
            }
        })
        .await;
    for result in results {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(e),
            Err(gone) => return Err(TopicError::ShardGone(gone)),
        }
    }
    tracing::info!(topic = ?meta, "topic deleted");
    Ok(meta)
}

/// Hands out a new producer id (epoch 0). Ids come from blocks reserved
/// durably, so no id is ever handed out twice, even across crashes. Returns
/// once the request is on its way to the catalogue shard.
pub async fn allocate_producer_id(
    shard: &Rc<Shard>,
) -> impl Future<Output = Result<i64, TopicError>> + 'static {
    let reply = on_controller_shard(shard, |s| async move {
        let id = s.controller.next_producer_id.get();
        let reserved_end = s.metadata.catalogue().producer_id_reserved_end;
        if id >= reserved_end {
            let mut next = s.metadata.catalogue().clone();
            next.producer_id_reserved_end = id.max(reserved_end) + PRODUCER_ID_BLOCK;
            store(&s, next).await?;
        }
        s.controller.next_producer_id.set(id + 1);
        Ok(id)
    })
    .await;
    async move {
        match reply {
            Ok(reply) => reply.await,
            Err(gone) => Err(TopicError::ShardGone(gone)),
        }
    }
}

/// Writes `next` durably and makes it this shard's catalogue. The file write
/// runs on glommio's blocking thread pool so the shard keeps serving.
async fn store(shard: &Rc<Shard>, next: Catalogue) -> Result<(), TopicError> {
    let data_dir = shard.config.data_dir.clone();
    let to_write = next.clone();
    glommio::executor()
        .spawn_blocking(move || to_write.store(&data_dir))
        .await
        .map_err(|e| TopicError::Store(std::sync::Arc::new(e)))?;
    shard.metadata.replace(next);
    Ok(())
}
