//! `cluster`: what the cluster is made of, as the client needs to know it: which node is primary
//! for each partition of a cache ([`partition_map`]), where the server nodes accept thin clients
//! ([`endpoints`]), and its caches: names, creation, backups ([`caches`]).

pub mod caches;
pub mod endpoints;
pub mod partition_map;

pub use endpoints::NodeEndpoint;
pub use partition_map::PartitionMap;
