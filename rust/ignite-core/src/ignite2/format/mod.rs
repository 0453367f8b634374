//! `format`: Ignite 2's binary format, as bytes: the object layout ([`object`]), the extent and
//! the parts of any value ([`values`], [`decimal`]), the type codes of each kind
//! ([`type_codes`]), binary type metadata ([`metadata`]), and the one object encoder
//! ([`object_encoder`]). Layout knowledge only: turning values into columns is `decode`'s job,
//! asking the server for anything is `read`'s and `write`'s.

pub mod decimal;
pub mod metadata;
pub mod object;
pub mod object_encoder;
pub mod type_codes;
pub mod values;
