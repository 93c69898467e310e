//! One record type as two builds of a program declare it: the same name and schema version (1),
//! another layout. What the record-shape checks of the logs are tested with.

/// A view as one build of a program wrote it, its shape declared by `#[record]`.
pub mod first_build {
    use dataflow_core::prelude::*;

    /// A page view.
    #[record]
    #[derive(Clone, Debug, PartialEq)]
    pub struct View {
        pub url: String,
    }
}

/// The same type in a later build: a field added, the version (1) left as it was.
pub mod later_build {
    use dataflow_core::prelude::*;

    /// A page view.
    #[record]
    #[derive(Clone, Debug, PartialEq)]
    pub struct View {
        pub url: String,
        pub ts: u64,
    }
}
