//! Error reasons and the one table that turns each into a gRPC status.
//!
//! Every refusal in Tongdao — from the broker, the policy engine or an adapter — is a
//! [`Rejection`]: a [`Reason`] from the fixed set in `tongdao/v1/errors.proto` plus a message
//! written for the caller. [`Rejection::into_status`] is the only place a reason becomes a
//! `tonic::Status`, so the code that goes with a reason can never differ between components.

use std::borrow::Cow;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

/// The fixed set of error reasons (`tongdao.v1.ErrorReason`).
pub use tongdao_schemas::v1::ErrorReason as Reason;

/// `google.rpc.ErrorInfo.domain` of every Tongdao error.
pub const ERROR_DOMAIN: &str = "tongdao";

/// The gRPC code that goes with each reason: the contract documented in `errors.proto`.
///
/// Codes follow tonic's rubric: `Unavailable` only where retrying can work,
/// `FailedPrecondition` where the caller must fix state first (consent), `Unauthenticated` where
/// the credentials themselves are unusable, `PermissionDenied` where they are fine but not enough.
pub fn code_for(reason: Reason) -> Code {
    use Reason::*;
    match reason {
        PrincipalUnrecognised | CertRevoked | CertSuspended => Code::Unauthenticated,
        AgencyUnknown | AgencyRequired | CitizenRequired | IdentityMismatch | RoleRequired
        | PurposeNotAllowed | NoMatchingRule | ConsentScope | RecipeNotAllowed => {
            Code::PermissionDenied
        }
        ServiceUnknown | MethodUnknown => Code::Unimplemented,
        MalformedRequest | SubjectInvalid | ExchangeIdInvalid | MetadataInvalid
        | PurposeRequired | PurposeUnknown | RecipeInputInvalid => Code::InvalidArgument,
        ReplayedExchange => Code::AlreadyExists,
        QuotaExceeded | Overloaded => Code::ResourceExhausted,
        ConsentRequired | ConsentInvalid | ConsentExpired | ConsentRevoked | ConsentUsed
        | LegNotRun => Code::FailedPrecondition,
        AdapterUnavailable | AuditUnavailable | ConsentUnavailable => Code::Unavailable,
        AdapterTimeout | DeadlineExceeded => Code::DeadlineExceeded,
        RecordNotFound | RecipeUnknown => Code::NotFound,
        SourceRecordMalformed => Code::DataLoss,
        AdapterFailed | InternalError | Unspecified => Code::Internal,
    }
}

/// The wire name of a reason, e.g. `PURPOSE_REQUIRED`.
pub fn reason_name(reason: Reason) -> &'static str {
    reason.as_str_name()
}

/// A refusal with its reason and a message for the caller.
///
/// Messages are read by people: say what was wrong and what to do, never echo a national ID
/// or an internal detail (file paths, addresses, stack traces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    reason: Reason,
    message: Cow<'static, str>,
}

impl Rejection {
    /// A rejection with `reason` and a caller-facing `message`.
    pub fn new(reason: Reason, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }

    /// The reason.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The caller-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The gRPC code for this rejection's reason.
    pub fn code(&self) -> Code {
        code_for(self.reason)
    }

    /// The status a caller receives: the reason's code, the message, and a
    /// `google.rpc.ErrorInfo` detail with domain `tongdao` and the reason's name.
    pub fn into_status(self) -> Status {
        let details = ErrorDetails::with_error_info(
            reason_name(self.reason),
            ERROR_DOMAIN,
            std::collections::HashMap::new(),
        );
        Status::with_error_details(self.code(), self.message.into_owned(), details)
    }

    /// Reads the Tongdao reason back out of a status, if it carries one (clients, and the broker
    /// reading an adapter's answer).
    pub fn reason_of(status: &Status) -> Option<Reason> {
        let info = status.get_details_error_info()?;
        if info.domain != ERROR_DOMAIN {
            return None;
        }
        Reason::from_str_name(&info.reason)
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", reason_name(self.reason), self.message)
    }
}

impl std::error::Error for Rejection {}

impl From<Rejection> for Status {
    fn from(rejection: Rejection) -> Self {
        rejection.into_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_carries_code_message_and_error_info() {
        let status = Rejection::new(Reason::PurposeRequired, "send tongdao-purpose").into_status();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(status.message(), "send tongdao-purpose");
        let info = status.get_details_error_info().expect("ErrorInfo detail");
        assert_eq!(info.domain, "tongdao");
        assert_eq!(info.reason, "PURPOSE_REQUIRED");
        assert_eq!(Rejection::reason_of(&status), Some(Reason::PurposeRequired));
    }

    #[test]
    fn every_reason_has_a_specific_code_and_round_trips() {
        for value in 1..=200 {
            let Ok(reason) = Reason::try_from(value) else {
                continue;
            };
            let status = Rejection::new(reason, "m").into_status();
            assert_ne!(status.code(), Code::Unknown, "{reason:?}");
            assert_ne!(status.code(), Code::Ok, "{reason:?}");
            assert_eq!(Rejection::reason_of(&status), Some(reason));
        }
    }

    #[test]
    fn foreign_domain_is_not_read_as_a_tongdao_reason() {
        let details = ErrorDetails::with_error_info(
            "PURPOSE_REQUIRED",
            "example.com",
            std::collections::HashMap::new(),
        );
        let status = Status::with_error_details(Code::InvalidArgument, "x", details);
        assert_eq!(Rejection::reason_of(&status), None);
    }
}
