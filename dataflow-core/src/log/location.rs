//! Where a log is, as a command line names it: a directory of the embedded file log, or a topic of
//! a Kafka-protocol broker (`kafka://HOST:PORT/TOPIC`). Every command that takes `--log` parses it
//! here, once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A log named on the command line: `--log DIR` or `--log kafka://HOST:PORT/TOPIC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogLocation {
    /// The embedded file log in this directory.
    Dir(PathBuf),
    /// A topic of a Kafka-protocol broker: `host:port` and the topic's name.
    Kafka {
        /// The broker's `host:port`.
        broker: String,
        /// The topic.
        topic: String,
    },
}

impl LogLocation {
    /// The directory of a file log; `None` for a Kafka topic.
    pub fn dir(&self) -> Option<&Path> {
        match self {
            LogLocation::Dir(dir) => Some(dir),
            LogLocation::Kafka { .. } => None,
        }
    }

    /// Parses `kafka://HOST:PORT/TOPIC`, or takes anything else as a directory.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix("kafka://") else {
            if text.contains("://") {
                return Err(format!(
                    "`{text}` is neither a directory nor kafka://HOST:PORT/TOPIC: only the kafka:// \
                     scheme is known"
                ));
            }
            return Ok(LogLocation::Dir(PathBuf::from(text)));
        };
        let usage = |why: &str| format!("`{text}`: {why}; write kafka://HOST:PORT/TOPIC");
        let (broker, topic) = rest
            .split_once('/')
            .ok_or_else(|| usage("no topic after the broker"))?;
        let (host, port) = broker
            .rsplit_once(':')
            .ok_or_else(|| usage("no port after the host"))?;
        if host.is_empty() {
            return Err(usage("no host"));
        }
        port.parse::<u16>()
            .map_err(|e| usage(&format!("the port `{port}` is not a port number ({e})")))?;
        // Kafka's own rule for topic names.
        let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if topic.is_empty() || topic.len() > 249 || !topic.chars().all(valid) {
            return Err(usage(
                "a topic is 1 to 249 of the characters a-z, A-Z, 0-9, '.', '_' and '-'",
            ));
        }
        Ok(LogLocation::Kafka {
            broker: broker.to_string(),
            topic: topic.to_string(),
        })
    }
}

impl FromStr for LogLocation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        LogLocation::parse(text)
    }
}

impl fmt::Display for LogLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogLocation::Dir(dir) => write!(f, "{}", dir.display()),
            LogLocation::Kafka { broker, topic } => write!(f, "kafka://{broker}/{topic}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_and_topics_are_told_apart() {
        assert_eq!(
            LogLocation::parse("/tmp/log").unwrap(),
            LogLocation::Dir("/tmp/log".into())
        );
        let kafka = LogLocation::parse("kafka://127.0.0.1:9093/sales").unwrap();
        assert_eq!(
            kafka,
            LogLocation::Kafka {
                broker: "127.0.0.1:9093".into(),
                topic: "sales".into()
            }
        );
        assert_eq!(kafka.to_string(), "kafka://127.0.0.1:9093/sales");
        for bad in [
            "kafka://host/sales",
            "kafka://host:x/sales",
            "kafka://host:9093",
            "kafka://host:9093/",
            "kafka://host:9093/a b",
            "kafka://:9093/t",
            "s3://bucket/log",
        ] {
            assert!(LogLocation::parse(bad).is_err(), "{bad}");
        }
    }
}
