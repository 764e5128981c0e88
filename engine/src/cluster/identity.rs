//! Which cluster and node a data directory belongs to
//! (`DATA_DIR/meta/node.json`, written at the first start): a broker
//! refuses to start on another cluster's or another node's data.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Identity {
    cluster_id: String,
    node_id: i32,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(
        "the data directory {} belongs to cluster {found:?}, not {configured:?} \
         (set cluster_id, or use another data directory)",
        path.display()
    )]
    OtherCluster {
        path: PathBuf,
        found: String,
        configured: String,
    },
    #[error(
        "the data directory {} belongs to node {found}, not {configured} \
         (set node_id, or use another data directory)",
        path.display()
    )]
    OtherNode {
        path: PathBuf,
        found: i32,
        configured: i32,
    },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Checks that `data_dir` belongs to this cluster and node, recording that
/// it does on the first start.
pub fn check(data_dir: &Path, cluster_id: &str, node_id: i32) -> Result<(), IdentityError> {
    let dir = data_dir.join("meta");
    let path = dir.join("node.json");
    let io = |source| IdentityError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(bytes) => {
            let found: Identity = serde_json::from_slice(&bytes)
                .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
            if found.cluster_id != cluster_id {
                return Err(IdentityError::OtherCluster {
                    path: data_dir.to_path_buf(),
                    found: found.cluster_id,
                    configured: cluster_id.to_string(),
                });
            }
            if found.node_id != node_id {
                return Err(IdentityError::OtherNode {
                    path: data_dir.to_path_buf(),
                    found: found.node_id,
                    configured: node_id,
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(&dir).map_err(io)?;
            let identity = Identity {
                cluster_id: cluster_id.to_string(),
                node_id,
            };
            let tmp = dir.join("node.json.tmp");
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            file.write_all(&serde_json::to_vec_pretty(&identity).expect("serialises"))
                .map_err(io)?;
            file.sync_all().map_err(io)?;
            std::fs::rename(&tmp, &path).map_err(io)?;
            std::fs::File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(io)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_directory_keeps_its_cluster_and_node() {
        let dir = tempfile::tempdir().unwrap();
        check(dir.path(), "c1", 2).unwrap();
        check(dir.path(), "c1", 2).unwrap();
        let other_node = check(dir.path(), "c1", 3).unwrap_err();
        assert!(
            other_node.to_string().contains("belongs to node 2, not 3"),
            "{other_node}"
        );
        let other_cluster = check(dir.path(), "c2", 2).unwrap_err();
        assert!(
            other_cluster
                .to_string()
                .contains("cluster \"c1\", not \"c2\""),
            "{other_cluster}"
        );
    }
}
