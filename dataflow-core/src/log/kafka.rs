//! The Kafka-protocol backend of the log: [`KafkaLog`] and its reader, [`KafkaTail`].

use crate::error::Error;
use crate::log::{Log, Offsets, Schema, Split, Tail};
use dataflow_log::{decode_versioned, shape_differences};
use futures_util::future::join_all;
use rskafka::BackoffConfig;
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::{Record, RecordAndOffset};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The header that carries a record's event time.
pub const EVENT_TIME_HEADER: &str = "event-time";
/// The header that carries a record's schema version.
pub const SCHEMA_VERSION_HEADER: &str = "schema-version";
/// The header that carries the shape of a record's type, when the type declares one.
pub const SCHEMA_SHAPE_HEADER: &str = "schema-shape";

/// Bytes of payload per produce request: well under a broker's default 1 MiB message limit.
const PRODUCE_BYTES: usize = 512 * 1024;

/// How a [`KafkaLog`] talks to its broker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KafkaOptions {
    /// How long a request is retried before it fails (10 s by default).
    pub retry_for: Duration,
    /// How long a partition whose records have all been read must stay quiet before it no longer
    /// holds the watermark back (1 s by default).
    pub partition_idle: Duration,
    /// Bytes asked for per fetch of one partition (1 MiB by default).
    pub fetch_bytes: i32,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        KafkaOptions {
            retry_for: Duration::from_secs(10),
            partition_idle: Duration::from_secs(1),
            fetch_bytes: 1 << 20,
        }
    }
}

/// The address of a topic: `kafka://HOST:PORT/TOPIC`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KafkaAddress {
    /// The broker's `host:port`.
    pub broker: String,
    /// The topic.
    pub topic: String,
}

impl fmt::Display for KafkaAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kafka://{}/{}", self.broker, self.topic)
    }
}

/// How [`KafkaLog::append_keyed`] chose partitions, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Partitioner {
    /// By a hash of each record's key.
    ByKey(Vec<String>),
    /// In turn, record by record.
    RoundRobin(String),
}

impl fmt::Display for Partitioner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Partitioner::ByKey(fields) => write!(f, "partitioned by key ({})", fields.join(", ")),
            Partitioner::RoundRobin(why) => write!(f, "partitioned round-robin ({why})"),
        }
    }
}

struct Inner {
    address: KafkaAddress,
    options: KafkaOptions,
    runtime: tokio::runtime::Runtime,
    _client: Client,
    partitions: Vec<PartitionClient>,
    /// The next partition of a round-robin append.
    turn: AtomicU64,
}

/// A topic of a Kafka-protocol broker (Apache Kafka, Redpanda, tansu, ...) as a [`Log`]: a log of
/// several partitions whose position is [`Offsets`], one offset per partition.
///
/// # Records
///
/// A record's value is its payload as the file log stores it (postcard, written by the input
/// type's [`Schema`]); its headers carry what the file log keeps beside the payload:
///
/// | header | value |
/// |---|---|
/// | `event-time` | the event time, ms since the Unix epoch, 8 bytes big-endian (also the record's Kafka timestamp when it fits) |
/// | `schema-version` | the payload's schema version ([`Schema::VERSION`]), 4 bytes big-endian |
/// | `schema-shape` | the record type's shape ([`Schema::SHAPE`]: field names and types) as text, when the type declares one |
///
/// Its Kafka key is the partition key (see [`KafkaLog::append_keyed`]), or none. A record without
/// the first two headers, or whose payload does not decode, is an error naming its partition and
/// offset; so is a record of the reader's schema version whose shape is not the reader's (a layout
/// changed under one version), naming the fields that differ, as the file log does with its
/// `SHAPES` file.
///
/// # Reading several partitions
///
/// A [`KafkaTail`] reads every partition. Each read takes records round-robin from the partitions
/// that have some and returns them partition by partition; its [`Split`] says how many it took from
/// each, which a checkpoint's journal keeps, so that a restart rebuilds exactly the same steps.
///
/// The event-time floor of a split is the least, over the partitions that are not idle, of the
/// greatest event time read from each: the watermark of an event-time pipeline does not pass it
/// (minus the maximum delay), so each partition is in time by its own order. A partition is idle
/// once every record committed to it has been read and none arrived for
/// [`KafkaOptions::partition_idle`]: it no longer holds the watermark back until it has records
/// again (the idle rule of a followed log, per partition).
///
/// # Faults
///
/// Every request to the broker is retried with exponential backoff (100 ms doubling up to 1 s) for
/// at most [`KafkaOptions::retry_for`] (10 s by default); then it fails with an error naming the
/// broker and what was asked. So a broker that is down at the start is an error after 10 s, and a
/// broker restarted during a replay or a follow is picked up again if it is back within 10 s; the
/// read goes on from the offsets it stands at, so nothing is lost or read twice. A broker that came
/// back without the records (a topic recreated, or a broker that keeps them in memory) is an error
/// naming the partition and the offsets, never a silent skip.
///
/// # The head
///
/// The head is taken from the high watermark of a Fetch response, not from `ListOffsets(latest)`:
/// some brokers (tansu 0.6 with memory storage) answer the latter with the last batch's base offset
/// plus one.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

impl fmt::Debug for KafkaLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "KafkaLog({}, {} partitions)",
            self.inner.address,
            self.partitions()
        )
    }
}

/// The partition of a record with key `key` among `partitions`: Kafka's default partitioner
/// (murmur2 of the key's bytes, its sign bit cleared, modulo the partitions), so that another
/// Kafka producer giving the same key bytes picks the same partition.
fn key_partition(key: &[u8], partitions: usize) -> usize {
    let positive = (murmur2(key) & 0x7fff_ffff) as u32;
    (positive % partitions.max(1) as u32) as usize
}

/// Murmur2 as the Kafka clients compute it (seed `0x9747b28c`), as a signed 32-bit value.
fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h: u32 = 0x9747_b28c ^ data.len() as u32;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M) ^ k;
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

impl KafkaLog {
    /// Connects to the topic at `address`, which must exist.
    pub fn connect(address: &KafkaAddress, options: KafkaOptions) -> Result<Self, Error> {
        Self::open(address, None, options)
    }

    /// Connects to the topic at `address`, creating it with `partitions` partitions when it does
    /// not exist. An existing topic with another number of partitions is an error.
    pub fn create(
        address: &KafkaAddress,
        partitions: usize,
        options: KafkaOptions,
    ) -> Result<Self, Error> {
        if partitions == 0 {
            return Err(Error::Usage(
                "a topic needs at least 1 partition".to_string(),
            ));
        }
        Self::open(address, Some(partitions), options)
    }

    fn open(
        address: &KafkaAddress,
        create: Option<usize>,
        options: KafkaOptions,
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kafka-client")
            .enable_all()
            .build()
            .map_err(|e| Error::Source(format!("{address}: cannot start the client: {e}")))?;
        let fail = |what: &str, e: String| Error::Source(format!("{address}: {what}: {e}"));
        let backoff = BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
            deadline: Some(options.retry_for),
        };
        let bounded = options.retry_for + Duration::from_secs(5);
        let unreachable = format!(
            "cannot reach the broker {} (retried for {:.0?})",
            address.broker, options.retry_for
        );
        let client = within(
            &runtime,
            bounded,
            ClientBuilder::new(vec![address.broker.clone()])
                .client_id("dataflow")
                .backoff_config(backoff)
                .build(),
        )
        .map_err(|e| fail(&unreachable, e))?;
        let count = |client: &Client| -> Result<Option<usize>, Error> {
            let topics = within(&runtime, bounded, client.list_topics())
                .map_err(|e| fail("cannot list the topics", e))?;
            Ok(topics
                .iter()
                .find(|t| t.name == address.topic)
                .map(|t| t.partitions.len()))
        };
        let existing = count(&client)?;
        let partitions = match (existing, create) {
            (Some(n), None) => n,
            (Some(n), Some(wanted)) if n == wanted => n,
            (Some(n), Some(wanted)) => {
                return Err(Error::Usage(format!(
                    "{address} has {n} partitions, not {wanted}: pass --partitions {n} (or another topic)"
                )));
            }
            (None, None) => {
                return Err(Error::Usage(format!(
                    "there is no topic {} on {}: create it with `ingest --input PATH --log {address}`",
                    address.topic, address.broker
                )));
            }
            (None, Some(wanted)) => {
                let controller = client
                    .controller_client()
                    .map_err(|e| fail("cannot reach the controller", e.to_string()))?;
                let partitions = i32::try_from(wanted)
                    .map_err(|_| Error::Usage(format!("{wanted} partitions are too many")))?;
                within(
                    &runtime,
                    bounded,
                    controller.create_topic(address.topic.clone(), partitions, 1, 5_000),
                )
                .map_err(|e| fail("cannot create the topic", e))?;
                // A broker may answer the creation before its metadata has the topic.
                let deadline = Instant::now() + options.retry_for;
                loop {
                    match count(&client)? {
                        Some(n) if n == wanted => break n,
                        _ if Instant::now() >= deadline => {
                            return Err(fail(
                                "the topic was created but does not appear",
                                format!("after {:.0?}", options.retry_for),
                            ));
                        }
                        _ => std::thread::sleep(Duration::from_millis(50)),
                    }
                }
            }
        };
        let mut clients = Vec::with_capacity(partitions);
        for partition in 0..partitions {
            let index = i32::try_from(partition).unwrap_or(i32::MAX);
            let client = within(
                &runtime,
                bounded,
                client.partition_client(address.topic.clone(), index, UnknownTopicHandling::Retry),
            )
            .map_err(|e| fail(&format!("cannot reach partition {partition}"), e))?;
            clients.push(client);
        }
        Ok(KafkaLog {
            inner: Arc::new(Inner {
                address: address.clone(),
                options,
                runtime,
                _client: client,
                partitions: clients,
                turn: AtomicU64::new(0),
            }),
        })
    }

    /// The topic's address.
    pub fn address(&self) -> &KafkaAddress {
        &self.inner.address
    }

    /// The number of partitions of the topic.
    pub fn partitions(&self) -> usize {
        self.inner.partitions.len()
    }

    /// The options the log was connected with.
    pub fn options(&self) -> KafkaOptions {
        self.inner.options
    }

    fn bounded(&self) -> Duration {
        self.inner.options.retry_for + Duration::from_secs(5)
    }

    fn error(&self, what: String, e: String) -> Error {
        Error::Source(format!("{}: {what}: {e}", self.inner.address))
    }

    /// The high watermark of every partition: the offset after its last committed record.
    pub fn high_watermarks(&self) -> Result<Offsets, Error> {
        let fetches = self
            .inner
            .partitions
            .iter()
            .map(|client| client.fetch_records(0, 0..1, 0));
        let answers = within(&self.inner.runtime, self.bounded(), all(fetches))
            .map_err(|e| self.error("cannot read the head".into(), e))?;
        answers
            .into_iter()
            .enumerate()
            .map(|(partition, answer)| match answer {
                Ok((_, high)) => Ok(u64::try_from(high).unwrap_or(0)),
                Err(e) => Err(self.error(
                    format!("cannot read the head of partition {partition}"),
                    e.to_string(),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Offsets)
    }

    /// Appends `records` (event time, record, partition key) and waits until the broker has
    /// acknowledged them all. A record with a key goes to the partition Kafka's default partitioner
    /// names (murmur2 of the key, so equal keys share a partition and keep their order, and another
    /// Kafka producer with the same key bytes agrees); one without
    /// goes to the partitions in turn. Returns the head before (as it was read just before) and the
    /// offsets after the appended records.
    pub fn append_keyed<I: Schema>(
        &self,
        records: &[(u64, &I, Option<Vec<u8>>)],
    ) -> Result<(Offsets, Offsets), Error> {
        let before = self.high_watermarks()?;
        let partitions = self.partitions();
        let mut per_partition: Vec<Vec<Record>> = vec![Vec::new(); partitions];
        for (event_time, record, key) in records {
            let payload = postcard::to_stdvec(*record)
                .map_err(|e| self.error("cannot encode a record".into(), e.to_string()))?;
            let partition = match key {
                Some(key) => key_partition(key, partitions),
                None => {
                    (self.inner.turn.fetch_add(1, Ordering::Relaxed) % partitions as u64) as usize
                }
            };
            let mut headers = BTreeMap::new();
            headers.insert(
                EVENT_TIME_HEADER.to_string(),
                event_time.to_be_bytes().to_vec(),
            );
            headers.insert(
                SCHEMA_VERSION_HEADER.to_string(),
                I::VERSION.to_be_bytes().to_vec(),
            );
            if let Some(shape) = I::SHAPE {
                headers.insert(SCHEMA_SHAPE_HEADER.to_string(), shape.as_bytes().to_vec());
            }
            let timestamp = i64::try_from(*event_time)
                .ok()
                .and_then(rskafka::chrono::DateTime::from_timestamp_millis)
                .unwrap_or_default();
            per_partition[partition].push(Record {
                key: key.clone(),
                value: Some(payload),
                headers,
                timestamp,
            });
        }
        let mut after = before.clone();
        after.0.resize(partitions, 0);
        let produces = per_partition
            .into_iter()
            .enumerate()
            .map(|(partition, records)| {
                let client = &self.inner.partitions[partition];
                async move {
                    let mut last = None;
                    let mut chunk = Vec::new();
                    let mut bytes = 0;
                    let mut rest = records.into_iter().peekable();
                    while let Some(record) = rest.next() {
                        bytes += record.approximate_size();
                        chunk.push(record);
                        if bytes >= PRODUCE_BYTES || rest.peek().is_none() {
                            let offsets = client
                                .produce(std::mem::take(&mut chunk), Compression::NoCompression)
                                .await?;
                            last = offsets.last().copied().or(last);
                            bytes = 0;
                        }
                    }
                    Ok::<_, rskafka::client::error::Error>((partition, last))
                }
            });
        let answers = within(&self.inner.runtime, self.bounded(), all(produces))
            .map_err(|e| self.error("cannot append".into(), e))?;
        for answer in answers {
            let (partition, last) =
                answer.map_err(|e| self.error("cannot append".into(), e.to_string()))?;
            if let Some(last) = last {
                after.0[partition] = u64::try_from(last).unwrap_or(0) + 1;
            }
        }
        Ok((before, after))
    }

    /// Fetches the records of `partition` from `offset` on, waiting up to `wait` for some; returns
    /// them with the partition's high watermark.
    fn fetch(
        &self,
        partitions: &[(usize, u64)],
        wait: Duration,
    ) -> Result<Vec<(usize, Vec<RecordAndOffset>, u64)>, Error> {
        let wait_ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
        let min_bytes = i32::from(wait_ms > 0);
        let max_bytes = self.inner.options.fetch_bytes.max(1);
        let fetches = partitions.iter().map(|&(partition, offset)| {
            let client = &self.inner.partitions[partition];
            async move {
                let offset = i64::try_from(offset).unwrap_or(i64::MAX);
                let answer = client
                    .fetch_records(offset, min_bytes..max_bytes, wait_ms)
                    .await;
                (partition, answer)
            }
        });
        let answers = within(&self.inner.runtime, self.bounded() + wait, all(fetches))
            .map_err(|e| self.error("cannot fetch".into(), e))?;
        answers
            .into_iter()
            .map(|(partition, answer)| match answer {
                Ok((records, high)) => Ok((partition, records, u64::try_from(high).unwrap_or(0))),
                Err(e) => {
                    let offset = partitions
                        .iter()
                        .find(|(p, _)| *p == partition)
                        .map_or(0, |(_, o)| *o);
                    let text = e.to_string();
                    if text.contains("OffsetOutOfRange") {
                        let head = self
                            .high_watermarks()
                            .map(|h| h.get(partition).to_string())
                            .unwrap_or_else(|_| "?".into());
                        Err(self.error(
                            format!("partition {partition} has no offset {offset}"),
                            format!(
                                "it ends at offset {head}: the topic was recreated or truncated \
                                 after these offsets were read"
                            ),
                        ))
                    } else {
                        Err(self.error(
                            format!("cannot fetch partition {partition} at offset {offset}"),
                            text,
                        ))
                    }
                }
            })
            .collect()
    }
}

/// Every future of `futures`, run at once: their outputs in order.
async fn all<F: Future>(
    futures: impl IntoIterator<Item = F>,
) -> Result<Vec<F::Output>, std::convert::Infallible> {
    Ok(join_all(futures).await)
}

/// Runs `future` on `runtime`, for at most `bound`.
fn within<T, E: fmt::Display>(
    runtime: &tokio::runtime::Runtime,
    bound: Duration,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    runtime.block_on(async {
        match tokio::time::timeout(bound, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {bound:.0?}")),
        }
    })
}

impl Log for KafkaLog {
    type Position = Offsets;
    type Tail<I: Schema + 'static> = KafkaTail<I>;

    fn name(&self) -> String {
        self.inner.address.to_string()
    }

    fn head(&self) -> Offsets {
        self.high_watermarks()
            .unwrap_or_else(|_| Offsets::start(self.partitions()))
    }

    fn tail<I: Schema + 'static>(&self, from: Offsets) -> Result<KafkaTail<I>, Error> {
        KafkaTail::open(self, from)
    }

    fn partitions(&self) -> usize {
        self.inner.partitions.len()
    }

    fn tail_of<I: Schema + 'static>(
        &self,
        from: Offsets,
        partitions: &[usize],
    ) -> Result<KafkaTail<I>, Error> {
        KafkaTail::open_partitions(self, from, partitions)
    }

    /// Appends round-robin over the partitions (see [`KafkaLog::append_keyed`]).
    fn append<I: Schema>(&self, records: &[(u64, I)]) -> Result<(Offsets, Offsets), Error> {
        let keyless: Vec<(u64, &I, Option<Vec<u8>>)> =
            records.iter().map(|(t, r)| (*t, r, None)).collect();
        self.append_keyed(&keyless)
    }
}

/// One partition as a [`KafkaTail`] reads it.
struct PartitionTail {
    /// The offset of the next record handed out.
    next: u64,
    /// The offset of the next record to fetch.
    fetched: u64,
    /// The high watermark last seen.
    high: u64,
    /// Fetched records not yet handed out, as they came.
    buffer: VecDeque<RecordAndOffset>,
    /// The greatest event time handed out.
    max_time: Option<u64>,
    /// Since when every committed record has been read (`None` while there are records to read).
    caught_up: Option<Instant>,
    /// Whether this tail reads the partition (in a cluster, each process reads its own share).
    assigned: bool,
}

/// Reads the partitions of a [`KafkaLog`] (all, or a process's share) from [`Offsets`] on.
pub struct KafkaTail<I> {
    log: KafkaLog,
    parts: Vec<PartitionTail>,
    last: Option<Split>,
    _record: PhantomData<fn() -> I>,
}

impl<I: Schema> KafkaTail<I> {
    /// A tail of `log` whose next record of each partition is at `from`'s offset.
    pub fn open(log: &KafkaLog, from: Offsets) -> Result<Self, Error> {
        let all: Vec<usize> = (0..log.partitions()).collect();
        Self::open_partitions(log, from, &all)
    }

    /// A tail of `log` that reads only `assigned` partitions, each from `from`'s offset; the others
    /// stay at `from` (see [`Log::tail_of`]).
    pub fn open_partitions(
        log: &KafkaLog,
        from: Offsets,
        assigned: &[usize],
    ) -> Result<Self, Error> {
        let partitions = log.partitions();
        if let Some(missing) = assigned.iter().find(|&&p| p >= partitions) {
            return Err(Error::Usage(format!(
                "{} has {partitions} partitions, so there is no partition {missing} to read",
                log.name()
            )));
        }
        if from.partitions() != 0 && from.partitions() != partitions {
            return Err(Error::Usage(format!(
                "{} has {partitions} partitions, but the position {from} names {}: the topic was \
                 recreated with another number of partitions",
                log.name(),
                from.partitions()
            )));
        }
        let high = log.high_watermarks()?;
        let mut parts = Vec::with_capacity(partitions);
        for partition in 0..partitions {
            let next = from.get(partition);
            if next > high.get(partition) {
                return Err(Error::Usage(format!(
                    "{} partition {partition} ends at offset {}, before offset {next}: the topic \
                     was recreated or truncated",
                    log.name(),
                    high.get(partition)
                )));
            }
            parts.push(PartitionTail {
                next,
                fetched: next,
                high: high.get(partition),
                buffer: VecDeque::new(),
                max_time: None,
                caught_up: None,
                assigned: assigned.contains(&partition),
            });
        }
        Ok(KafkaTail {
            log: log.clone(),
            parts,
            last: None,
            _record: PhantomData,
        })
    }

    /// Fetches the partitions whose buffers are empty, waiting up to `wait` for records.
    fn fill(&mut self, wait: Duration) -> Result<(), Error> {
        let wanted: Vec<(usize, u64)> = self
            .parts
            .iter()
            .enumerate()
            .filter(|(_, part)| part.assigned && part.buffer.is_empty())
            .map(|(p, part)| (p, part.fetched))
            .collect();
        if wanted.is_empty() {
            return Ok(());
        }
        for (partition, records, high) in self.log.fetch(&wanted, wait)? {
            let part = &mut self.parts[partition];
            if high < part.fetched {
                return Err(Error::Source(format!(
                    "{} partition {partition} now ends at offset {high}, before offset {} that was \
                     read: the topic was recreated or truncated",
                    self.log.name(),
                    part.fetched
                )));
            }
            part.high = high;
            for RecordAndOffset { record, offset } in records {
                let offset = u64::try_from(offset).unwrap_or(0);
                if offset < part.fetched {
                    continue;
                }
                if offset != part.fetched {
                    return Err(Error::Source(format!(
                        "{} partition {partition}: expected the record at offset {}, the broker \
                         answered with offset {offset}",
                        self.log.name(),
                        part.fetched
                    )));
                }
                part.buffer.push_back(RecordAndOffset {
                    record,
                    offset: offset as i64,
                });
                part.fetched += 1;
            }
        }
        Ok(())
    }

    /// Hands out `counts[p]` buffered records of each partition `p`, partition by partition,
    /// decoded. A record that does not decode is an error naming its partition and offset.
    fn take(&mut self, counts: &[u64], into: &mut Vec<I>) -> Result<usize, Error> {
        let now = Instant::now();
        let mut taken = 0;
        let name = self.log.name();
        for (partition, (part, &count)) in self.parts.iter_mut().zip(counts).enumerate() {
            for _ in 0..count {
                let Some(front) = part.buffer.front() else {
                    break;
                };
                let (time, record) = decode::<I>(&front.record).map_err(|why| {
                    Error::Source(format!(
                        "{name}: cannot decode the record at partition {partition} offset {}: {why}",
                        front.offset
                    ))
                })?;
                part.buffer.pop_front();
                part.max_time = Some(part.max_time.map_or(time, |t| t.max(time)));
                part.next += 1;
                into.push(record);
                taken += 1;
            }
            if part.buffer.is_empty() && part.fetched >= part.high {
                part.caught_up.get_or_insert(now);
            } else {
                part.caught_up = None;
            }
        }
        Ok(taken)
    }

    /// The least greatest event time over the partitions that are not idle.
    fn floor(&self) -> Option<u64> {
        let idle_after = self.log.options().partition_idle;
        self.parts
            .iter()
            .filter(|part| {
                part.assigned
                    && part
                        .caught_up
                        .is_none_or(|since| since.elapsed() < idle_after)
            })
            .map(|part| part.max_time.unwrap_or(0))
            .min()
    }

    /// Takes up to `max` buffered records, round-robin over the partitions.
    fn read_buffered(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        let mut counts = vec![0u64; self.parts.len()];
        let mut left = max;
        loop {
            let mut moved = false;
            for (count, part) in counts.iter_mut().zip(&self.parts) {
                if left == 0 {
                    break;
                }
                if (*count as usize) < part.buffer.len() {
                    *count += 1;
                    left -= 1;
                    moved = true;
                }
            }
            if !moved || left == 0 {
                break;
            }
        }
        let taken = self.take(&counts, into)?;
        self.last = Some(Split {
            counts,
            floor: self.floor(),
        });
        Ok(taken)
    }
}

/// A record's event time and value, from its headers and payload.
fn decode<I: Schema>(record: &Record) -> Result<(u64, I), String> {
    let header = |name: &str, len: usize| -> Result<Vec<u8>, String> {
        match record.headers.get(name) {
            Some(value) if value.len() == len => Ok(value.clone()),
            Some(value) => Err(format!(
                "its `{name}` header has {} bytes, not {len}",
                value.len()
            )),
            None => Err(format!(
                "it has no `{name}` header: it was not written by `ingest`"
            )),
        }
    };
    let mut time = [0u8; 8];
    time.copy_from_slice(&header(EVENT_TIME_HEADER, 8)?);
    let mut version = [0u8; 4];
    version.copy_from_slice(&header(SCHEMA_VERSION_HEADER, 4)?);
    let version = u32::from_be_bytes(version);
    // Only the reader's own version has a shape to compare with: older ones are upgraded.
    if version == I::VERSION
        && let (Some(logged), Some(given)) = (record.headers.get(SCHEMA_SHAPE_HEADER), I::SHAPE)
        && logged.as_slice() != given.as_bytes()
    {
        let logged = String::from_utf8_lossy(logged);
        return Err(format!(
            "it holds a version {version} record as `{logged}`, but it is read as `{given}` at version \
             {version} ({}): a new layout needs a new version, as in `#[record(version = {}, upgrade = ..)]`",
            shape_differences(&logged, given).join(", "),
            version + 1
        ));
    }
    let payload = record.value.as_deref().unwrap_or_default();
    let value = decode_versioned::<I>(version, payload)
        .map_err(|e| format!("(schema version {version}) {e}"))?;
    Ok((u64::from_be_bytes(time), value))
}

impl<I: Schema + 'static> Tail<I> for KafkaTail<I> {
    type Position = Offsets;

    fn position(&self) -> Offsets {
        Offsets(self.parts.iter().map(|part| part.next).collect())
    }

    /// The high watermarks the last fetches answered (a read asks every partition that has
    /// nothing buffered, so this is as fresh as the last read).
    fn head(&self) -> Offsets {
        Offsets(
            self.parts
                .iter()
                .map(|part| if part.assigned { part.high } else { part.next })
                .collect(),
        )
    }

    fn read(&mut self, max: usize, into: &mut Vec<I>) -> Result<usize, Error> {
        if max > 0 {
            self.fill(Duration::ZERO)?;
        }
        self.read_buffered(max, into)
    }

    fn wait(&mut self, max: usize, timeout: Duration, into: &mut Vec<I>) -> Result<usize, Error> {
        let read = self.read(max, into)?;
        if read > 0 || max == 0 {
            return Ok(read);
        }
        // Every partition is asked at once; each answers when it has records or after a slice of
        // the timeout, so that records in any partition are seen within that slice.
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            self.fill(left.min(Duration::from_millis(100)))?;
            let read = self.read_buffered(max, into)?;
            if read > 0 || Instant::now() >= deadline {
                return Ok(read);
            }
        }
    }

    fn split(&self) -> Option<Split> {
        self.last.clone()
    }

    fn read_split(&mut self, split: &Split, into: &mut Vec<I>) -> Result<usize, Error> {
        if split.counts.len() != self.parts.len() {
            return Err(Error::Usage(format!(
                "{} has {} partitions, but the checkpoint's steps read {}: the topic was recreated \
                 with another number of partitions",
                self.log.name(),
                self.parts.len(),
                split.counts.len()
            )));
        }
        // Fetch until every partition holds what the step took from it, or has no more.
        loop {
            let short: Vec<usize> = (0..self.parts.len())
                .filter(|&p| (self.parts[p].buffer.len() as u64) < split.counts[p])
                .collect();
            if short.is_empty() {
                break;
            }
            let before: Vec<u64> = self.parts.iter().map(|part| part.fetched).collect();
            let wanted: Vec<(usize, u64)> =
                short.iter().map(|&p| (p, self.parts[p].fetched)).collect();
            // `fill` fetches only empty buffers; fetch the short ones directly.
            for (partition, records, high) in self.log.fetch(&wanted, Duration::ZERO)? {
                let part = &mut self.parts[partition];
                part.high = high;
                for RecordAndOffset { record, offset } in records {
                    let offset = u64::try_from(offset).unwrap_or(0);
                    if offset != part.fetched {
                        continue;
                    }
                    part.buffer.push_back(RecordAndOffset {
                        record,
                        offset: offset as i64,
                    });
                    part.fetched += 1;
                }
            }
            let progressed = self
                .parts
                .iter()
                .zip(&before)
                .any(|(part, before)| part.fetched > *before);
            if !progressed {
                break;
            }
        }
        let taken = self.take(&split.counts, into)?;
        self.last = Some(split.clone());
        Ok(taken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(headers: &[(&str, Vec<u8>)], value: Vec<u8>) -> Record {
        Record {
            key: None,
            value: Some(value),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            timestamp: Default::default(),
        }
    }

    #[test]
    fn a_record_of_another_layout_under_the_same_version_names_the_fields() {
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct PageView {
            url: String,
            ts: u64,
        }
        impl Schema for PageView {
            const VERSION: u32 = 2;
            const SHAPE: Option<&'static str> = Some("struct PageView { url: String, ts: u64 }");
        }
        let payload = postcard::to_stdvec(&PageView {
            url: "/".into(),
            ts: 7,
        })
        .unwrap();
        let with_shape = |version: u32, shape: &str| {
            record(
                &[
                    (EVENT_TIME_HEADER, 7u64.to_be_bytes().to_vec()),
                    (SCHEMA_VERSION_HEADER, version.to_be_bytes().to_vec()),
                    (SCHEMA_SHAPE_HEADER, shape.as_bytes().to_vec()),
                ],
                payload.clone(),
            )
        };
        // The same layout, and a record written without a declared shape, decode.
        let same = with_shape(2, "struct PageView { url: String, ts: u64 }");
        assert_eq!(decode::<PageView>(&same).unwrap().0, 7);
        let mut unshaped = same.clone();
        unshaped.headers.remove(SCHEMA_SHAPE_HEADER);
        assert!(decode::<PageView>(&unshaped).is_ok());
        // Another layout under version 2 is refused, naming what changed.
        let other = with_shape(2, "struct PageView { url: String, ts: i64, user: String }");
        let error = decode::<PageView>(&other).unwrap_err();
        assert!(error.contains("`ts: i64` became `ts: u64`"), "{error}");
        assert!(error.contains("`user: String` removed"), "{error}");
        assert!(error.contains("version = 3"), "{error}");
    }

    #[test]
    fn records_carry_event_time_and_schema_version_in_headers() {
        let payload = postcard::to_stdvec(&"hello".to_string()).unwrap();
        let good = record(
            &[
                (EVENT_TIME_HEADER, 42u64.to_be_bytes().to_vec()),
                (SCHEMA_VERSION_HEADER, 1u32.to_be_bytes().to_vec()),
            ],
            payload.clone(),
        );
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Text(String);
        impl Schema for Text {
            const VERSION: u32 = 1;
        }
        assert_eq!(
            decode::<Text>(&good).unwrap(),
            (42, Text("hello".to_string()))
        );
        let bare = record(&[], payload.clone());
        assert!(
            decode::<Text>(&bare)
                .unwrap_err()
                .contains("no `event-time` header")
        );
        let short = record(
            &[
                (EVENT_TIME_HEADER, vec![1, 2]),
                (SCHEMA_VERSION_HEADER, 1u32.to_be_bytes().to_vec()),
            ],
            payload.clone(),
        );
        assert!(
            decode::<Text>(&short)
                .unwrap_err()
                .contains("2 bytes, not 8")
        );
        let unknown = record(
            &[
                (EVENT_TIME_HEADER, 42u64.to_be_bytes().to_vec()),
                (SCHEMA_VERSION_HEADER, 9u32.to_be_bytes().to_vec()),
            ],
            payload,
        );
        assert!(
            decode::<Text>(&unknown)
                .unwrap_err()
                .contains("schema version 9")
        );
    }

    /// Kafka's own vectors (`UtilsTest.testMurmur2` of the Java client).
    #[test]
    fn murmur2_is_the_kafka_clients_hash() {
        let vectors: [(&[u8], i32); 7] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
            (b"", 275_646_681),
        ];
        for (key, hash) in vectors {
            assert_eq!(murmur2(key), hash, "{}", String::from_utf8_lossy(key));
        }
        // The Java client's partition: the hash with its sign bit cleared, modulo the partitions.
        assert_eq!(
            key_partition(b"foobar", 12),
            ((-790_332_482i32 & 0x7fff_ffff) % 12) as usize
        );
    }

    #[test]
    fn equal_keys_hash_alike() {
        assert_eq!(
            key_partition(b"[\"tea\"]", 7),
            key_partition(b"[\"tea\"]", 7)
        );
        let spread: std::collections::BTreeSet<usize> = (0..100)
            .map(|i| key_partition(format!("[\"p{i}\"]").as_bytes(), 7))
            .collect();
        assert_eq!(spread.len(), 7, "keys spread over every partition");
    }
}
