//! The partitions a shard owns: each one's log, idempotent-producer state and
//! new-data notification. (Storage wiring lands with the storage crate's log.)

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use crate::shard::Shard;

/// A topic-partition name as used for lookups on a shard.
pub type TopicPartition = (String, i32);

pub struct Partition {
    pub topic: String,
    pub index: i32,
}

/// The partitions one shard owns.
#[derive(Default)]
pub struct Partitions {
    pub map: RefCell<HashMap<TopicPartition, Rc<Partition>>>,
}

/// Opens (and recovers) every partition in the catalogue this shard owns.
pub async fn open_owned(shard: &Rc<Shard>) -> Result<usize, String> {
    let owned: Vec<TopicPartition> = {
        let catalogue = shard.catalogue.borrow();
        catalogue
            .topics
            .iter()
            .flat_map(|(name, meta)| (0..meta.partitions).map(move |p| (name.clone(), p)))
            .filter(|(name, p)| shard.placement.shard_for(name, *p) == shard.id)
            .collect()
    };
    let mut map = shard.partitions.map.borrow_mut();
    for (topic, index) in owned {
        map.insert((topic.clone(), index), Rc::new(Partition { topic, index }));
    }
    Ok(map.len())
}

/// Syncs and closes every partition of the shard.
pub async fn close_all(shard: &Rc<Shard>) -> Result<(), String> {
    shard.partitions.map.borrow_mut().clear();
    Ok(())
}
