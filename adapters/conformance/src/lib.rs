//! The adapter conformance kit: runs the checks of `adapters/CONTRACT.md` against a running
//! adapter, whatever language it is written in, over real mTLS.
//!
//! From the command line: `tongdao adapter conformance --target HOST:PORT …` (see [`Args`]).
//! From code (the broker's integration tests):
//!
//! ```no_run
//! # async fn example() -> Result<(), tongdao_conformance::BuildError> {
//! let target = tongdao_conformance::Target::builder("127.0.0.1:7001", "tongdao.land.v1.LandRegistry")
//!     .server_name("land.adapter.tongdao.test")
//!     // broker.crt/.key, grca.crt, and agencies/taipei-tax.crt/.key as the stranger
//!     .dev_pki("pki", "agencies/taipei-tax")
//!     .subject("A123456789")
//!     .subject(r#"{"landOfficeCode":"GB","sectionCode":"3000","parcelNumber":"0001-0000"}"#)
//!     .absent_subject("Z190000009")
//!     .build()?;
//! let report = tongdao_conformance::run_checks(&target).await;
//! assert!(report.passed(), "{report}");
//! # Ok(()) }
//! ```

mod checks;
pub mod dev;
mod inspect;
mod report;
mod target;
mod wire;

use std::{path::PathBuf, process::ExitCode, time::Duration};

pub use checks::run_checks;
pub use report::{Check, Outcome, REVIEW_ONLY, Report};
pub use target::{BuildError, Limits, SubjectArg, Target, TargetBuilder};

/// Exit status for unusable arguments (EX_USAGE), as for a bad configuration.
const EXIT_USAGE: u8 = 64;

/// `tongdao adapter conformance …`: checks a running adapter against `adapters/CONTRACT.md`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The adapter's address, host:port.
    #[arg(long, value_name = "HOST:PORT")]
    pub target: String,
    /// The name the adapter's certificate must be valid for (default: the host of --target).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
    /// The gRPC service the adapter serves, e.g. tongdao.land.v1.LandRegistry.
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// The broker's certificate chain (PEM): the one client the adapter must accept.
    #[arg(long, value_name = "FILE")]
    pub broker_cert: PathBuf,
    /// The broker's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub broker_key: PathBuf,
    /// Trust anchors for the adapter's certificate (PEM); repeatable.
    #[arg(long = "ca", value_name = "FILE", required = true)]
    pub cas: Vec<PathBuf>,
    /// A certificate valid under the same CA that is NOT the broker's: the adapter must refuse it.
    #[arg(long, value_name = "FILE")]
    pub stranger_cert: PathBuf,
    /// The stranger certificate's private key (PEM).
    #[arg(long, value_name = "FILE")]
    pub stranger_key: PathBuf,
    /// A subject the source knows: a national ID, a unified business number, or a JSON object
    /// for a message-typed subject (e.g. a land parcel key). Repeatable, one per kind.
    #[arg(long = "subject", value_name = "VALUE")]
    pub subjects: Vec<String>,
    /// A subject valid by checksum that the source does not know. Repeatable, one per kind.
    #[arg(long = "absent-subject", value_name = "VALUE")]
    pub absent_subjects: Vec<String>,
    /// A sample request replacing the default one for a method: 'Method={json}' in the proto3
    /// JSON mapping; an empty subject field is filled with --subject. Repeatable.
    #[arg(long = "request", value_name = "METHOD=JSON")]
    pub requests: Vec<String>,
    /// A binary FileDescriptorSet (with imports) to find the service in, for services not
    /// compiled into this binary.
    #[arg(long, value_name = "FILE")]
    pub descriptor_set: Option<PathBuf>,
    /// Time limit for each call, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000)]
    pub call_timeout_ms: u64,
    /// Time limit for each TCP connect and TLS handshake, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 3000)]
    pub connect_timeout_ms: u64,
    /// Calls in flight at once in the concurrency check.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub concurrency: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

impl Args {
    /// The target these arguments describe.
    pub fn target(&self) -> Result<Target, BuildError> {
        let mut builder = Target::builder(&self.target, &self.service)
            .broker(&self.broker_cert, &self.broker_key)
            .stranger(&self.stranger_cert, &self.stranger_key)
            .limits(Limits {
                connect_timeout: Duration::from_millis(self.connect_timeout_ms),
                call_timeout: Duration::from_millis(self.call_timeout_ms),
                concurrency: self.concurrency,
                ..Limits::default()
            });
        if let Some(name) = &self.server_name {
            builder = builder.server_name(name);
        }
        if let Some(path) = &self.descriptor_set {
            builder = builder.descriptor_set_file(path)?;
        }
        for ca in &self.cas {
            builder = builder.ca(ca);
        }
        for subject in &self.subjects {
            builder = builder.subject(subject);
        }
        for subject in &self.absent_subjects {
            builder = builder.absent_subject(subject);
        }
        for request in &self.requests {
            builder = builder.request_arg(request);
        }
        builder.build()
    }
}

/// Runs the checks and prints the report; fails when any check fails.
pub async fn main(args: Args) -> ExitCode {
    let target = match args.target() {
        Ok(target) => target,
        Err(error) => {
            eprintln!("tongdao adapter conformance: cannot start:");
            for problem in &error.problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let report = run_checks(&target).await;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
