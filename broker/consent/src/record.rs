//! The stored form of a consent: its terms under the subject's pseudonym, never the national
//! ID. Both stores keep this canonical JSON.

use crate::{
    model::{Consent, ConsentId, ConsentIn, ConsentOut, Terms},
    subject::Pseudonym,
};

/// A consent as a store holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredConsent {
    pub(crate) id: ConsentId,
    pub(crate) subject: Pseudonym,
    pub(crate) terms: Terms,
}

impl StoredConsent {
    pub(crate) fn of(consent: &Consent, subject: Pseudonym) -> StoredConsent {
        StoredConsent {
            id: *consent.id(),
            subject,
            terms: consent.terms().clone(),
        }
    }

    /// Canonical JSON: the members of a consent in their order, subject as 64 hex digits.
    pub(crate) fn encode(&self) -> String {
        // Strings and numbers only: serialising cannot fail.
        serde_json::to_string(&self.out()).unwrap_or_default()
    }

    pub(crate) fn out(&self) -> ConsentOut<'_, Pseudonym> {
        ConsentOut::new(&self.id, &self.subject, &self.terms)
    }

    pub(crate) fn decode(text: &[u8]) -> Result<StoredConsent, String> {
        let raw: ConsentIn<Pseudonym> =
            serde_json::from_slice(text).map_err(|error| error.to_string())?;
        StoredConsent::from_in(raw)
    }

    pub(crate) fn from_in(raw: ConsentIn<Pseudonym>) -> Result<StoredConsent, String> {
        let (id, subject, terms) = raw.into_parts().map_err(str::to_owned)?;
        Ok(StoredConsent { id, subject, terms })
    }
}
