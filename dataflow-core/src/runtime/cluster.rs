//! Where a pipeline's workers run: timely's own configuration of threads and processes.

use crate::error::Error;
use timely::{CommunicationConfig, WorkerConfig};

/// Where a pipeline's workers run: threads in this process, and optionally several processes.
///
/// The flags mirror timely's own: `-w` workers per process, `-n` processes, `-p` this process's index,
/// `-h` a host file with one `host:port` per process (default: `localhost:2101`, `2102`, ...).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Worker threads in each process.
    pub workers: usize,
    /// Number of processes.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// One `host:port` per process; empty means localhost ports from 2101.
    pub addresses: Vec<String>,
}

impl Default for Cluster {
    fn default() -> Self {
        Cluster {
            workers: 1,
            processes: 1,
            process: 0,
            addresses: Vec::new(),
        }
    }
}

impl Cluster {
    pub(crate) fn timely_config(&self) -> Result<timely::Config, Error> {
        if self.workers == 0 {
            return Err(Error::Usage(
                "the number of workers must be at least 1".into(),
            ));
        }
        if self.process >= self.processes {
            return Err(Error::Usage(format!(
                "process index {} is out of range for {} processes",
                self.process, self.processes
            )));
        }
        let communication = if self.processes > 1 {
            let addresses = if self.addresses.is_empty() {
                (0..self.processes)
                    .map(|index| format!("localhost:{}", 2101 + index))
                    .collect()
            } else if self.addresses.len() == self.processes {
                self.addresses.clone()
            } else {
                return Err(Error::Usage(format!(
                    "the host file names {} hosts for {} processes",
                    self.addresses.len(),
                    self.processes
                )));
            };
            CommunicationConfig::Cluster {
                threads: self.workers,
                process: self.process,
                addresses,
                report: false,
                zerocopy: false,
            }
        } else if self.workers > 1 {
            CommunicationConfig::Process(self.workers)
        } else {
            CommunicationConfig::Thread
        };
        Ok(timely::Config {
            communication,
            worker: WorkerConfig::default(),
        })
    }
}
